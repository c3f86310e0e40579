/**
 * The fleet event log: `emit()` writes a row and publishes it in process to live subscribers
 * (WatchEvents streams and the SSE endpoint). Every state change in the hub goes through here.
 */
import type { EventKind } from "@powernode/proto";
import { and, asc, gte, lte, sql } from "drizzle-orm";
import type { ClusterBus } from "../cluster/cluster-bus.ts";
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

/** An event to write. */
export interface NewEvent {
  kind: string;
  severity: Severity;
  payload: Record<string, unknown>;
  opts?: EmitOptions;
}

/** The event log's operations. */
export interface EventLog {
  /** Writes one event (its kind and severity from the catalog, `EVENTS`) and publishes it; resolves once stored. */
  emit(
    kind: Pick<EventKind, "kind" | "severity">,
    payload: Record<string, unknown>,
    opts?: EmitOptions,
  ): Promise<FleetEventRecord>;
  /** Writes several events in one INSERT and publishes them in order. */
  emitMany(events: readonly NewEvent[]): Promise<FleetEventRecord[]>;
  /**
   * Inserts events with `tx` (a transaction) without publishing them: call `publish` with the rows once
   * that transaction committed, so subscribers never see an event that was rolled back.
   */
  insert(tx: Pick<Db, "insert" | "execute">, events: readonly NewEvent[]): Promise<FleetEventRecord[]>;
  publish(rows: readonly FleetEventRecord[]): void;
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

/**
 * Held (transaction-scoped) by every transaction that inserts events, so `seq` order is commit order
 * even with several hub processes on one PostgreSQL: a reader paging "after seq N" never misses a row
 * that commits later with a smaller seq (docs/decisions/0008-multi-writer-order.md).
 */
export const EVENTS_LOCK_KEY = 0x706e5f657674; // "pn_evt"

/** Kinds are dotted lowercase words, e.g. `system.agent.enrolled`. */
const KIND_RE = /^[a-z0-9_]+(\.[a-z0-9_-]+)*$/;

/**
 * Creates the event log over `db`; `onEmit` sees every stored event (metrics). With `cluster`, every
 * inserting transaction also tells the other hub processes the seq range it wrote (cluster/), and
 * their events reach this log's subscribers.
 */
export function createEventLog(
  db: Db,
  log: Logger,
  onEmit: (e: FleetEventRecord) => void = () => {},
  cluster?: ClusterBus,
): EventLog {
  const subs = new Set<{ filter: EventFilter; fn: (e: FleetEventRecord) => void }>();
  const insert = async (
    q: Pick<Db, "insert" | "execute">,
    events: readonly NewEvent[],
  ): Promise<FleetEventRecord[]> => {
    if (events.length === 0) return [];
    for (const e of events) {
      if (!KIND_RE.test(e.kind)) throw new Error(`event kind "${e.kind}" is not dotted lowercase`);
    }
    await q.execute(sql`select pg_advisory_xact_lock(${EVENTS_LOCK_KEY})`);
    const rows = await q
      .insert(fleetEvents)
      .values(
        events.map((e) => ({
          kind: e.kind,
          severity: e.severity,
          payload: e.payload,
          correlationId: e.opts?.correlationId ?? null,
          nodeId: e.opts?.nodeId ?? null,
        })),
      )
      .returning();
    const first = rows[0];
    const last = rows.at(-1);
    if (cluster && first && last) await cluster.notify(q, { k: "events", from: first.seq, to: last.seq });
    return rows;
  };
  const fanOut = (rows: readonly FleetEventRecord[]): void => {
    for (const row of rows) {
      for (const s of subs) {
        if (!matchesFilter(row, s.filter)) continue;
        try {
          s.fn(row);
        } catch (e) {
          // A broken subscriber must not fail the write that already happened; it is logged.
          log.warn("event subscriber threw", { kind: row.kind, error: e });
        }
      }
    }
  };
  const publish = (rows: readonly FleetEventRecord[]): void => {
    for (const row of rows) onEmit(row);
    fanOut(rows);
  };
  // Another hub's events: read back by seq (a NOTIFY payload is too small for them) and handed to this
  // hub's subscribers in order; the other hub counted them in its metrics.
  let remote = Promise.resolve();
  cluster?.subscribe((m) => {
    if (m.k !== "events") return;
    remote = remote.then(async () => {
      try {
        const rows = await db
          .select()
          .from(fleetEvents)
          .where(and(gte(fleetEvents.seq, m.from), lte(fleetEvents.seq, m.to)))
          .orderBy(asc(fleetEvents.seq));
        fanOut(rows);
      } catch (e) {
        log.warn("reading another hub's events", { from: m.from, to: m.to, error: e });
      }
    });
  });
  const emitMany = async (events: readonly NewEvent[]): Promise<FleetEventRecord[]> => {
    if (events.length === 0) return [];
    const rows = await db.transaction((tx) => insert(tx, events));
    publish(rows);
    return rows;
  };
  return {
    async emit({ kind, severity }, payload, opts = {}) {
      const [row] = await emitMany([{ kind, severity, payload, opts }]);
      if (!row) throw new Error(`writing event ${kind}: no row returned`);
      return row;
    },
    emitMany,
    insert,
    publish,
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
