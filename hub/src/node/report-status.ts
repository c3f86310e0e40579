/**
 * ReportStatus: each PhaseEvent becomes a fleet event for the node, correlated by boot id, with the
 * agent's own timestamps kept in the payload; conditions are written as one status event. The agent
 * re-sends events until a call succeeds, so an event already stored for the same node, boot, kind and
 * agent timestamp (its answer was lost) is acknowledged without a second row.
 *
 * A node speaks only for itself: it may report the catalog's agent kinds (`from: "agent"` or `"both"`)
 * under their names; any other kind (the hub's own `system.*` kinds, kinds the catalog does not know)
 * is stored as `node.<kind>` with severity info, so nothing a node sends reads as the hub's word.
 * Renaming rather than refusing keeps the agent's queue moving (it re-sends a refused report for ever).
 */
import { EVENTS, type EventKind, eventKind, withSeverity } from "@powernode/proto";
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
/** Events per ReportStatus call (the agent sends at most this many). */
export const MAX_EVENTS_PER_REPORT = 100;
/** Bytes of one event's payload, as JSON. */
export const MAX_EVENT_PAYLOAD_BYTES = 64 * 1024;
/** Conditions per call, and the longest condition message kept (longer ones are cut). */
export const MAX_CONDITIONS = 32;
export const MAX_CONDITION_MESSAGE = 1024;
/** The namespace of kinds a node reports that are not the catalog's agent kinds. */
export const NODE_KIND_PREFIX = "node.";

/**
 * The kind and severity a node-reported kind is stored under: the catalog's own for its agent kinds,
 * `node.<kind>` (info) for everything else (a `node.*` kind keeps its name).
 */
export function nodeReportedKind(kind: string): Pick<EventKind, "kind" | "severity"> {
  const known = eventKind(kind);
  if (known && known.from !== "hub") return { kind: known.kind, severity: known.severity };
  return { kind: kind.startsWith(NODE_KIND_PREFIX) ? kind : `${NODE_KIND_PREFIX}${kind}`, severity: "info" };
}

function jsonBytes(v: unknown): number {
  return Buffer.byteLength(JSON.stringify(v) ?? "");
}

/** Writes the report; returns how many phase events were accepted. */
export async function reportStatus(
  deps: Pick<Deps, "events" | "db">,
  instanceId: string,
  bootId: string,
  events: PhaseEventInput[],
  conditions: ConditionInput[],
): Promise<number> {
  if (bootId.length > 128) throw new DomainError("invalid_argument", "boot_id: longer than 128");
  if (events.length > MAX_EVENTS_PER_REPORT)
    throw new DomainError("resource_exhausted", `events: more than ${MAX_EVENTS_PER_REPORT} in one call`);
  if (conditions.length > MAX_CONDITIONS)
    throw new DomainError("invalid_argument", `conditions: more than ${MAX_CONDITIONS}`);
  events.forEach((e, i) => {
    if (!KIND_RE.test(e.kind) || e.kind.length > 128) {
      throw new DomainError(
        "invalid_argument",
        `events[${i}].kind: "${e.kind.slice(0, 64)}" is not a dotted lowercase kind`,
      );
    }
    const bytes = jsonBytes(e.payload);
    if (bytes > MAX_EVENT_PAYLOAD_BYTES) {
      throw new DomainError(
        "resource_exhausted",
        `events[${i}].payload: ${bytes} bytes of JSON, at most ${MAX_EVENT_PAYLOAD_BYTES}`,
      );
    }
  });
  conditions.forEach((c, i) => {
    if (c.type.length > 128)
      throw new DomainError("invalid_argument", `conditions[${i}].type: longer than 128`);
    if (c.reason.length > 128)
      throw new DomainError("invalid_argument", `conditions[${i}].reason: longer than 128`);
  });
  const stored = events.map((e) => ({ ...e, ...nodeReportedKind(e.kind) }));
  const correlationId = bootId || undefined;
  const opts = { nodeId: instanceId, correlationId };
  const seen = new Set<string>();
  if (bootId !== "" && stored.length > 0) {
    const rows = await deps.db
      .select({ kind: fleetEvents.kind, agentAt: sql<string | null>`${fleetEvents.payload}->>'agentAt'` })
      .from(fleetEvents)
      .where(
        and(
          eq(fleetEvents.nodeId, instanceId),
          eq(fleetEvents.correlationId, bootId),
          inArray(fleetEvents.kind, [...new Set(stored.map((e) => e.kind))]),
        ),
      );
    for (const r of rows) seen.add(`${r.kind}|${r.agentAt ?? ""}`);
  }
  const fresh = stored.filter((e) => {
    const key = `${e.kind}|${e.at?.toISOString() ?? ""}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  const rows: NewEvent[] = fresh.map((e) => ({
    kind: e.kind,
    // The catalog's severity for its agent kinds (a verify failure is critical); anything else is info.
    severity: e.severity,
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
        conditions: conditions.map((c) => ({
          ...c,
          message:
            c.message.length > MAX_CONDITION_MESSAGE
              ? `${c.message.slice(0, MAX_CONDITION_MESSAGE)}…`
              : c.message,
          since: c.since?.toISOString() ?? null,
        })),
      },
      opts,
    });
  }
  // One INSERT for the whole report: a boot's phase events arrive together and keep their order (seq).
  await deps.events.emitMany(rows);
  return events.length;
}
