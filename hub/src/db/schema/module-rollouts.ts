/**
 * Rolling module upgrades (hub/src/module-rollouts): one rollout of a module version over a template's
 * nodes in batches (the canary first), and one row per node naming its batch and what it ran before.
 * All of a rollout's state lives here, so any hub process can advance it and a restarted hub resumes it
 * (decision 0042).
 */
import { sql } from "drizzle-orm";
import {
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from "drizzle-orm/pg-core";
import { timestamps } from "./common.ts";
import { instances } from "./instances.ts";
import { type ModuleRefDocument, templates } from "./templates.ts";

export type ModuleRolloutStateName = "running" | "succeeded" | "failed" | "aborted";
export type ModuleRolloutNodeStateName =
  | "pending"
  | "updating"
  | "updated"
  | "failed"
  | "rolled_back"
  | "skipped";

export const moduleRollouts = pgTable(
  "module_rollouts",
  {
    id: uuid().primaryKey().defaultRandom(),
    templateId: uuid()
      .notNull()
      .references(() => templates.id, { onDelete: "cascade" }),
    templateName: text().notNull(),
    module: text().notNull(),
    /** The template's version of the module at the start ("" = the newest at the time). */
    fromVersion: text().notNull(),
    toVersion: text().notNull(),
    /** Each batch after the canary holds ceil(batchPercent% of the nodes). */
    batchPercent: integer().notNull(),
    batchCount: integer().notNull(),
    /** The batch in flight (0 = the canary). */
    currentBatch: integer().notNull().default(0),
    batchTimeoutSeconds: integer().notNull(),
    state: text().$type<ModuleRolloutStateName>().notNull().default("running"),
    error: text(),
    batchStartedAt: timestamp({ withTimezone: true }),
    finishedAt: timestamp({ withTimezone: true }),
    ...timestamps,
  },
  (t) => [
    // At most one running module rollout per template, whichever hub process starts it.
    uniqueIndex("module_rollouts_running_template_key").on(t.templateId).where(sql`${t.state} = 'running'`),
    index().on(t.state),
  ],
);

export const moduleRolloutNodes = pgTable(
  "module_rollout_nodes",
  {
    rolloutId: uuid()
      .notNull()
      .references(() => moduleRollouts.id, { onDelete: "cascade" }),
    nodeId: uuid()
      .notNull()
      .references(() => instances.id, { onDelete: "cascade" }),
    nodeName: text().notNull(),
    /** 0 = the canary. */
    batch: integer().notNull(),
    state: text().$type<ModuleRolloutNodeStateName>().notNull().default("pending"),
    /** The instance's own module references before the rollout touched it (restored on rollback). */
    previousModules: jsonb().$type<ModuleRefDocument[]>(),
    startedAt: timestamp({ withTimezone: true }),
    finishedAt: timestamp({ withTimezone: true }),
    error: text(),
  },
  (t) => [primaryKey({ columns: [t.rolloutId, t.nodeId] }), index().on(t.nodeId)],
);
