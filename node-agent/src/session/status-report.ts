/**
 * hub.StatusReport: delivers buffered phase events with ReportStatus as soon as they are recorded;
 * events stay buffered (and are sent again) until a call succeeds.
 */
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { PhaseEvent } from "@powernode/proto";
import type { SessionContext } from "./context.ts";
import { loopBackoff, waitBeforeRetry } from "./context.ts";
import type { HubLink } from "./hub-client.ts";
import type { Phase } from "./phases.ts";

/** Events per ReportStatus call. */
export const MAX_EVENTS_PER_REPORT = 100;

function toProto(p: Phase): Omit<PhaseEvent, "$typeName"> {
  return { kind: p.kind, at: timestampFromDate(p.at), uptimeSeconds: p.uptimeSeconds, payload: p.payload };
}

/** Runs until the session stops; never throws. */
export async function runStatusReport(ctx: SessionContext, link: HubLink): Promise<void> {
  const backoff = loopBackoff(ctx);
  let wake: (() => void) | undefined;
  const unsubscribe = ctx.phases.subscribe(() => wake?.());
  const onAbort = () => wake?.();
  ctx.signal.addEventListener("abort", onAbort);
  try {
    while (!ctx.signal.aborted) {
      // The hub takes at most 500 events per call; a long outage never builds that many, but stay below.
      const batch = ctx.phases.pending().slice(0, MAX_EVENTS_PER_REPORT);
      if (batch.length === 0) {
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
        wake = undefined;
        continue;
      }
      const generation = link.generation();
      try {
        await link
          .current()
          .client.reportStatus(
            { bootId: ctx.bootId, events: batch.map(toProto), conditions: [] },
            { signal: ctx.signal, timeoutMs: 15_000 },
          );
        ctx.phases.markSent(batch);
        ctx.state.reportsSent++;
        backoff.reset();
        ctx.changed();
      } catch (err) {
        if (ctx.signal.aborted) return;
        // Cut off by a connection replacement (certificate renewed): send again on the new one.
        if (link.generation() !== generation) continue;
        await waitBeforeRetry(ctx, "report status", err, backoff);
      }
    }
  } finally {
    unsubscribe();
    ctx.signal.removeEventListener("abort", onAbort);
  }
}
