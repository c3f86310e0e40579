/**
 * The fleet event log: `emit()` writes a row and publishes it in process to live subscribers
 * (WatchEvents streams and the SSE endpoint). Every state change in the hub goes through here.
 */
import type { Db } from "../db/client.ts";
import { fleetEvents } from "../db/schema/index.ts";
import type { Logger } from "../log.ts";

/** Event severities; critical events are kept 365 days, the rest 90. */
export type Severity = "info" | "warn" | "error" | "critical";

/** A stored fleet event. */
export interface FleetEventRecord {
  id: string;
  kind: string;
  severity: Severity;
  payload: Record<string, unknown>;
  correlationId: string | null;
  nodeId: string | null;
  createdAt: Date;
}

/** Filter for live subscriptions (and queries). */
export interface EventFilter {
  kindPrefix?: string;
  nodeId?: string;
}

/** Options of one emitted event. */
export interface EmitOptions {
  correlationId?: string;
  nodeId?: string;
}

/** The event log's operations. */
export interface EventLog {
  /** Writes one event and publishes it to subscribers; resolves once it is stored. */
  emit(
    kind: string,
    severity: Severity,
    payload: Record<string, unknown>,
    opts?: EmitOptions,
  ): Promise<FleetEventRecord>;
  /** Calls `fn` for every event emitted from now on that matches `filter`; returns the unsubscribe. */
  subscribe(filter: EventFilter, fn: (e: FleetEventRecord) => void): () => void;
  /** Number of live subscribers (for metrics and tests). */
  subscriberCount(): number;
}

/** True when `e` passes `filter`. */
export function matchesFilter(e: FleetEventRecord, filter: EventFilter): boolean {
  if (filter.kindPrefix && !e.kind.startsWith(filter.kindPrefix)) return false;
  if (filter.nodeId && e.nodeId !== filter.nodeId) return false;
  return true;
}

/** Kinds are dotted lowercase words, e.g. `system.agent.enrolled`. */
const KIND_RE = /^[a-z0-9_]+(\.[a-z0-9_-]+)*$/;

/** Creates the event log over `db`; `onEmit` sees every stored event (metrics). */
export function createEventLog(
  db: Db,
  log: Logger,
  onEmit: (e: FleetEventRecord) => void = () => {},
): EventLog {
  const subs = new Set<{ filter: EventFilter; fn: (e: FleetEventRecord) => void }>();
  return {
    async emit(kind, severity, payload, opts = {}) {
      if (!KIND_RE.test(kind)) throw new Error(`event kind "${kind}" is not dotted lowercase`);
      const [row] = await db
        .insert(fleetEvents)
        .values({
          kind,
          severity,
          payload,
          correlationId: opts.correlationId ?? null,
          nodeId: opts.nodeId ?? null,
        })
        .returning();
      if (!row) throw new Error(`writing event ${kind}: no row returned`);
      onEmit(row);
      for (const s of subs) {
        if (!matchesFilter(row, s.filter)) continue;
        try {
          s.fn(row);
        } catch (e) {
          // A broken subscriber must not fail the write that already happened; it is logged.
          log.warn("event subscriber threw", { kind, error: e });
        }
      }
      return row;
    },
    subscribe(filter, fn) {
      const s = { filter, fn };
      subs.add(s);
      return () => {
        subs.delete(s);
      };
    },
    subscriberCount: () => subs.size,
  };
}
