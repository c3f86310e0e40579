/**
 * Agent self-update (hub/src/agent-builds): the agent builds published to the hub registry, and per
 * node the version it is told to run plus what its heartbeats reported (pid, last failed build).
 */
import { bigint, integer, pgTable, text, timestamp, uniqueIndex, uuid } from "drizzle-orm/pg-core";
import { timestamps } from "./common.ts";
import { instances } from "./instances.ts";

export const agentBuilds = pgTable(
  "agent_builds",
  {
    id: uuid().primaryKey().defaultRandom(),
    version: text().notNull(),
    arch: text().$type<"amd64" | "arm64">().notNull(),
    /** The binary's sha256 (64 hex), also its blob digest in `powernode/agent`. */
    sha256: text().notNull(),
    size: bigint({ mode: "number" }).notNull(),
    manifestDigest: text().notNull(),
    ...timestamps,
  },
  (t) => [uniqueIndex().on(t.version, t.arch)],
);

export const nodeAgents = pgTable("node_agents", {
  nodeId: uuid()
    .primaryKey()
    .references(() => instances.id, { onDelete: "cascade" }),
  /** null: the agent the node's image carries. */
  desiredVersion: text(),
  pid: integer(),
  lastFailedVersion: text(),
  lastFailedSha256: text(),
  lastFailedReason: text(),
  lastFailedAt: timestamp({ withTimezone: true }),
  ...timestamps,
});
