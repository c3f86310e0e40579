/** The fleet event log: every state change, retained 90 days (routine) or 365 days (critical). */
import { bigserial, index, jsonb, pgEnum, pgTable, text, timestamp, uuid } from "drizzle-orm/pg-core";

export const severity = pgEnum("severity", ["info", "warn", "error", "critical"]);

export const fleetEvents = pgTable(
  "fleet_events",
  {
    id: uuid().primaryKey().defaultRandom(),
    kind: text().notNull(),
    severity: severity().notNull(),
    payload: jsonb().$type<Record<string, unknown>>().notNull(),
    correlationId: text(),
    /** The instance the event concerns; no foreign key so events outlive deleted instances. */
    nodeId: uuid(),
    createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
    /** Insertion order: events written in one statement share created_at, so lists order by seq. */
    seq: bigserial({ mode: "number" }).notNull(),
  },
  (t) => [
    index().on(t.createdAt),
    index().on(t.seq),
    index().on(t.kind, t.createdAt),
    index().on(t.nodeId, t.createdAt),
    index().on(t.correlationId),
  ],
);
