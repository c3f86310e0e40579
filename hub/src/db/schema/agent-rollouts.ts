/**
 * Rolling agent updates (hub/src/agent-builds/rollouts.ts): one rollout of a version over a template's
 * nodes, and one step per node in the order they are updated. All of a rollout's state lives here, so
 * any hub process can advance it and a restarted hub resumes it (decision 0030).
 */
import { sql } from "drizzle-orm";
import { index, integer, pgTable, primaryKey, text, timestamp, uniqueIndex, uuid } from "drizzle-orm/pg-core";
import { timestamps } from "./common.ts";
import { instances } from "./instances.ts";
import { templates } from "./templates.ts";

export type AgentRolloutStateName = "running" | "succeeded" | "failed" | "aborted";
export type AgentRolloutStepStateName = "pending" | "updating" | "updated" | "failed" | "skipped";

export const agentRollouts = pgTable(
  "agent_rollouts",
  {
    id: uuid().primaryKey().defaultRandom(),
    templateId: uuid()
      .notNull()
      .references(() => templates.id, { onDelete: "cascade" }),
    /** The template's name at the start (for lists; templates are not renamed). */
    templateName: text().notNull(),
    version: text().notNull(),
    state: text().$type<AgentRolloutStateName>().notNull().default("running"),
    maxFailures: integer().notNull().default(0),
    failures: integer().notNull().default(0),
    stepTimeoutSeconds: integer().notNull(),
    error: text(),
    finishedAt: timestamp({ withTimezone: true }),
    ...timestamps,
  },
  (t) => [
    // At most one running rollout per template, whichever hub process starts it.
    uniqueIndex("agent_rollouts_running_template_key").on(t.templateId).where(sql`${t.state} = 'running'`),
    index().on(t.state),
  ],
);

export const agentRolloutSteps = pgTable(
  "agent_rollout_steps",
  {
    rolloutId: uuid()
      .notNull()
      .references(() => agentRollouts.id, { onDelete: "cascade" }),
    /** 0-based; steps run in this order. */
    position: integer().notNull(),
    nodeId: uuid()
      .notNull()
      .references(() => instances.id, { onDelete: "cascade" }),
    nodeName: text().notNull(),
    state: text().$type<AgentRolloutStepStateName>().notNull().default("pending"),
    fromVersion: text(),
    startedAt: timestamp({ withTimezone: true }),
    finishedAt: timestamp({ withTimezone: true }),
    error: text(),
  },
  (t) => [primaryKey({ columns: [t.rolloutId, t.position] }), uniqueIndex().on(t.rolloutId, t.nodeId)],
);
