/**
 * `status-report`: delivers the phase events with ReportStatus as soon as they are recorded, and the
 * controllers' Conditions whenever one changes. Events stay buffered (and are sent again) until a call
 * succeeds.
 */
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { PhaseEvent } from "@powernode/proto";
import { waitBeforeRetry } from "../../hub/retry.ts";
import { createBackoff } from "../../runtime/backoff.ts";
import type { ConditionValue, Controller } from "../../runtime/controller.ts";
import { ControllerStatus } from "../../runtime/engine.ts";
import type { Phase } from "../../runtime/phases.ts";
import type { AgentDeps } from "../deps.ts";
import { HubConnection, StatusReportStatus } from "../resources.ts";

/** Events per ReportStatus call: the hub's limit (hub/src/node/report-status.ts MAX_EVENTS_PER_REPORT). */
export const MAX_EVENTS_PER_REPORT = 100;

function toProto(p: Phase): Omit<PhaseEvent, "$typeName"> {
  return { kind: p.kind, at: timestampFromDate(p.at), uptimeSeconds: p.uptimeSeconds, payload: p.payload };
}

/** A condition's identity for change detection (its `since` moves only with ok/reason). */
const conditionKey = (cs: readonly ConditionValue[]) =>
  JSON.stringify(cs.map((c) => [c.type, c.ok, c.reason, c.message]));

export function statusReportController(deps: AgentDeps): Controller {
  return {
    name: "status-report",
    inputs: [HubConnection, ControllerStatus],
    outputs: [StatusReportStatus],
    async run(ctx) {
      const backoff = createBackoff(deps.backoff);
      const unsubscribe = deps.phases.subscribe(() => ctx.wake());
      let sentConditions = "";
      let reportsSent = 0;
      try {
        while (!ctx.signal.aborted) {
          const conn = ctx.get(HubConnection, "node")?.spec;
          // The hub takes at most 100 events per call (resource_exhausted beyond): send at most that many.
          const batch = deps.phases.pending().slice(0, MAX_EVENTS_PER_REPORT);
          const conditions = ctx.list(ControllerStatus).map((r) => r.spec);
          const key = conditionKey(conditions);
          if (!conn || (batch.length === 0 && key === sentConditions)) {
            await ctx.changed();
            continue;
          }
          const { link } = conn;
          const generation = link.generation();
          try {
            await link.current().client.reportStatus(
              {
                bootId: deps.bootId,
                events: batch.map(toProto),
                conditions:
                  key === sentConditions
                    ? []
                    : conditions.map((c) => ({
                        type: c.type,
                        ok: c.ok,
                        reason: c.reason,
                        message: c.message,
                        since: timestampFromDate(c.since),
                      })),
              },
              { signal: ctx.signal, timeoutMs: 15_000 },
            );
            deps.phases.markSent(batch);
            sentConditions = key;
            reportsSent++;
            ctx.set(StatusReportStatus, "node", { reportsSent });
            backoff.reset();
          } catch (err) {
            if (ctx.signal.aborted) return;
            // Cut off by a connection replacement (certificate renewed): send again on the new one.
            if (link.generation() !== generation) continue;
            await waitBeforeRetry(ctx, "report status", err, backoff);
          }
        }
      } finally {
        unsubscribe();
      }
    },
  };
}
