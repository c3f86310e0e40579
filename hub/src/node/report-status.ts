/**
 * ReportStatus: each PhaseEvent becomes a fleet event for the node, correlated by boot id, with the
 * agent's own timestamps kept in the payload; conditions are written as one status event. The agent
 * re-sends events until a call succeeds, so an event already stored for the same node, boot, kind and
 * agent timestamp (its answer was lost) is acknowledged without a second row.
 */
import { EVENTS, eventKind, withSeverity } from "@powernode/proto";
import { and, eq, inArray, sql } from "drizzle-orm";
import { fleetEvents } from "../db/schema/index.ts";
import type { Deps } from "../deps.ts";
import { DomainError } from "../errors.ts";
import type { NewEvent } from "../events/index.ts";

export interface PhaseEventInput {
  kind: string;
  at: Date | undefined;
  uptimeSeconds: number;
  payload: Record<string, unknown>;
}

/** One controller condition. */
export interface ConditionInput {
  type: string;
  ok: boolean;
  reason: string;
  message: string;
  since: Date | undefined;
}

const KIND_RE = /^[a-z0-9_]+(\.[a-z0-9_-]+)+$/;
const MAX_EVENTS = 500;

/** Writes the report; returns how many phase events were accepted. */
export async function reportStatus(
  deps: Pick<Deps, "events" | "db">,
  instanceId: string,
  bootId: string,
  events: PhaseEventInput[],
  conditions: ConditionInput[],
): Promise<number> {
  if (bootId.length > 128) throw new DomainError("invalid_argument", "boot_id: longer than 128");
  if (events.length > MAX_EVENTS)
    throw new DomainError("invalid_argument", `events: more than ${MAX_EVENTS}`);
  events.forEach((e, i) => {
    if (!KIND_RE.test(e.kind) || e.kind.length > 128) {
      throw new DomainError(
        "invalid_argument",
        `events[${i}].kind: "${e.kind.slice(0, 64)}" is not a dotted lowercase kind`,
      );
    }
  });
  const correlationId = bootId || undefined;
  const opts = { nodeId: instanceId, correlationId };
  const seen = new Set<string>();
  if (bootId !== "" && events.length > 0) {
    const stored = await deps.db
      .select({ kind: fleetEvents.kind, agentAt: sql<string | null>`${fleetEvents.payload}->>'agentAt'` })
      .from(fleetEvents)
      .where(
        and(
          eq(fleetEvents.nodeId, instanceId),
          eq(fleetEvents.correlationId, bootId),
          inArray(fleetEvents.kind, [...new Set(events.map((e) => e.kind))]),
        ),
      );
    for (const r of stored) seen.add(`${r.kind}|${r.agentAt ?? ""}`);
  }
  const fresh = events.filter((e) => {
    const key = `${e.kind}|${e.at?.toISOString() ?? ""}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  const rows: NewEvent[] = fresh.map((e) => ({
    kind: e.kind,
    // The catalog's severity for the kinds it knows (a verify failure is critical); anything else is info.
    severity: eventKind(e.kind)?.severity ?? "info",
    payload: { ...e.payload, agentAt: e.at?.toISOString() ?? null, uptimeSeconds: e.uptimeSeconds, bootId },
    opts,
  }));
  if (conditions.length > 0) {
    rows.push({
      ...(conditions.some((c) => !c.ok)
        ? withSeverity(EVENTS.agentConditions, "warn")
        : EVENTS.agentConditions),
      payload: {
        bootId,
        conditions: conditions.map((c) => ({ ...c, since: c.since?.toISOString() ?? null })),
      },
      opts,
    });
  }
  // One INSERT for the whole report: a boot's phase events arrive together and keep their order (seq).
  await deps.events.emitMany(rows);
  return events.length;
}
