/**
 * Event retention: routine events (info, warn, error) are deleted after 90 days, critical after 365.
 * Run at start and hourly by the hub.
 */
import { and, lt, ne, sql } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { fleetEvents } from "../db/schema/index.ts";

export const ROUTINE_RETENTION_DAYS = 90;
export const CRITICAL_RETENTION_DAYS = 365;
const DAY_MS = 86_400_000;

/** Deletes expired events; returns how many rows went. */
export async function pruneEvents(
  db: Db,
  now: Date = new Date(),
): Promise<{ routine: number; critical: number }> {
  const routineCutoff = new Date(now.getTime() - ROUTINE_RETENTION_DAYS * DAY_MS);
  const criticalCutoff = new Date(now.getTime() - CRITICAL_RETENTION_DAYS * DAY_MS);
  const routine = await db
    .delete(fleetEvents)
    .where(and(ne(fleetEvents.severity, "critical"), lt(fleetEvents.createdAt, routineCutoff)))
    .returning({ id: fleetEvents.id });
  const critical = await db
    .delete(fleetEvents)
    .where(and(sql`${fleetEvents.severity} = 'critical'`, lt(fleetEvents.createdAt, criticalCutoff)))
    .returning({ id: fleetEvents.id });
  return { routine: routine.length, critical: critical.length };
}
