/**
 * Reading the event log: filtered lists, newest last, bounded by count and by bytes (the newest
 * events whose payloads fit {@link MAX_PAGE_BYTES}: a few large payloads cannot make one answer huge).
 */
import { and, asc, desc, eq, gt, inArray, like, lt, type SQL, sql } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { fleetEvents } from "../db/schema/index.ts";
import type { FleetEventRecord, Severity } from "./event-log.ts";

/** Filters of {@link listEvents}. */
export interface EventQuery {
  kindPrefix?: string;
  nodeId?: string;
  correlationId?: string;
  since?: Date;
  minSeverity?: Severity;
  /** Default 100, at most 1000. */
  limit?: number;
  /** Only events older than this sequence number (the previous page's oldest). */
  beforeSeq?: number;
  /** Bytes of payload JSON per answer (default {@link MAX_PAGE_BYTES}); the newest event always comes. */
  maxBytes?: number;
}

/** Payload bytes one list answers at most (ListEvents, a WatchEvents replay). */
export const MAX_PAGE_BYTES = 4 * 1024 * 1024;
/** What an event costs besides its payload (ids, kind, times), counted against the budget. */
const EVENT_OVERHEAD_BYTES = 128;

const ORDER: Severity[] = ["info", "warn", "error", "critical"];

function escapeLike(s: string): string {
  return s.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/** Lists events matching `q`, oldest first among the newest `limit`. */
export async function listEvents(db: Db, q: EventQuery): Promise<FleetEventRecord[]> {
  return (await listEventPage(db, q)).events;
}

/** A page of {@link listEvents} and whether older matching events exist (the next page's `beforeSeq`). */
export async function listEventPage(
  db: Db,
  q: EventQuery,
): Promise<{ events: FleetEventRecord[]; olderBeforeSeq?: number }> {
  const where: SQL[] = [];
  if (q.kindPrefix) where.push(like(fleetEvents.kind, `${escapeLike(q.kindPrefix)}%`));
  if (q.nodeId) where.push(eq(fleetEvents.nodeId, q.nodeId));
  if (q.correlationId) where.push(eq(fleetEvents.correlationId, q.correlationId));
  if (q.since) where.push(gt(fleetEvents.createdAt, q.since));
  if (q.beforeSeq !== undefined) where.push(lt(fleetEvents.seq, q.beforeSeq));
  if (q.minSeverity && q.minSeverity !== "info") {
    where.push(inArray(fleetEvents.severity, ORDER.slice(ORDER.indexOf(q.minSeverity))));
  }
  const limit = Math.min(Math.max(q.limit || 100, 1), 1000);
  const budget = q.maxBytes ?? MAX_PAGE_BYTES;
  // Sizes first (measured in the database, nothing large shipped), then the rows that fit.
  const sizes = await db
    .select({ seq: fleetEvents.seq, bytes: sql<number>`octet_length(${fleetEvents.payload}::text)` })
    .from(fleetEvents)
    .where(where.length > 0 ? and(...where) : undefined)
    .orderBy(desc(fleetEvents.seq))
    .limit(limit + 1); // one more: whether an older page exists
  const keep: number[] = [];
  let used = 0;
  for (const r of sizes.slice(0, limit)) {
    used += Number(r.bytes) + EVENT_OVERHEAD_BYTES;
    if (keep.length > 0 && used > budget) break;
    keep.push(r.seq);
  }
  if (keep.length === 0) return { events: [] };
  const events = await db
    .select()
    .from(fleetEvents)
    .where(inArray(fleetEvents.seq, keep))
    .orderBy(asc(fleetEvents.seq));
  const oldest = keep[keep.length - 1] as number;
  return keep.length < sizes.length ? { events, olderBeforeSeq: oldest } : { events };
}
