/** Reading the event log: filtered lists, newest last. */
import { and, desc, eq, gt, inArray, like, type SQL } from "drizzle-orm";
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
}

const ORDER: Severity[] = ["info", "warn", "error", "critical"];

function escapeLike(s: string): string {
  return s.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/** Lists events matching `q`, oldest first among the newest `limit`. */
export async function listEvents(db: Db, q: EventQuery): Promise<FleetEventRecord[]> {
  const where: SQL[] = [];
  if (q.kindPrefix) where.push(like(fleetEvents.kind, `${escapeLike(q.kindPrefix)}%`));
  if (q.nodeId) where.push(eq(fleetEvents.nodeId, q.nodeId));
  if (q.correlationId) where.push(eq(fleetEvents.correlationId, q.correlationId));
  if (q.since) where.push(gt(fleetEvents.createdAt, q.since));
  if (q.minSeverity && q.minSeverity !== "info") {
    where.push(inArray(fleetEvents.severity, ORDER.slice(ORDER.indexOf(q.minSeverity))));
  }
  const limit = Math.min(Math.max(q.limit || 100, 1), 1000);
  const rows = await db
    .select()
    .from(fleetEvents)
    .where(where.length > 0 ? and(...where) : undefined)
    .orderBy(desc(fleetEvents.seq))
    .limit(limit);
  return rows.reverse();
}
