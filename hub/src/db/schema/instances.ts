/** Instances (= nodes): the record of one machine, its lifecycle state and what it last reported. */
import type { JsonValue } from "@bufbuild/protobuf";
import { sql } from "drizzle-orm";
import {
  bigint,
  boolean,
  doublePrecision,
  index,
  integer,
  jsonb,
  pgEnum,
  pgTable,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from "drizzle-orm/pg-core";
import { timestamps } from "./common.ts";
import { type ModuleRefDocument, templates } from "./templates.ts";

/** Lifecycle: pending -> starting (provider started) -> running (first heartbeat) -> stopped; deleted. */
export const instanceState = pgEnum("instance_state", [
  "pending",
  "starting",
  "running",
  "degraded",
  "stopped",
  "deleted",
]);

/** How much a node can carry on its network: heavyweight nodes may run ovn_kubernetes (decision 0013). */
export const networkProfile = pgEnum("network_profile", ["heavyweight", "lightweight"]);

/** One module as a node observed it (ModuleObservation). */
export interface ModuleObservationDocument {
  name: string;
  version: string;
  metadataDigest: string;
  verityRootHash: string;
  /** "mounted", "failed", "pending". */
  state: string;
  message?: string;
}

export const instances = pgTable(
  "instances",
  {
    /** The instance UUID; also the CN of the node certificate. */
    id: uuid().primaryKey().defaultRandom(),
    /** Unique among instances that are not deleted. */
    name: text().notNull(),
    arch: text().$type<"amd64" | "arm64">().notNull(),
    memoryMib: integer().notNull().default(1024),
    vcpus: integer().notNull().default(1),
    provider: text().notNull(),
    network: text().notNull().default("user"),
    persistent: boolean().notNull().default(false),
    state: instanceState().notNull().default("pending"),
    providerInfo: jsonb().$type<Record<string, string>>().notNull().default(sql`'{}'::jsonb`),
    agentVersion: text(),
    bootId: text(),
    uptimeSeconds: doublePrecision(),
    /** From the last heartbeat: zombies under the agent, its RSS, children it has started. */
    zombieCount: integer(),
    agentRssBytes: bigint({ mode: "number" }),
    childrenSpawned: integer(),
    /** The template the instance was created from (its modules are assigned too). */
    templateId: uuid().references(() => templates.id, { onDelete: "set null" }),
    /** Modules assigned to the instance itself. */
    modules: jsonb().$type<ModuleRefDocument[]>().notNull().default([]),
    /**
     * What the node's heartbeats last observed of its mounted modules (written when it changes): the
     * health gate of module rollouts reads it, from any hub process.
     */
    moduleObservations: jsonb().$type<ModuleObservationDocument[]>().notNull().default([]),
    moduleObservationsAt: timestamp({ withTimezone: true }),
    /** Test-only hooks for the desired state's `debug` section (protobuf JSON of DebugSpec). */
    debug: jsonb().$type<JsonValue>(),
    /** Null: unknown (treated as lightweight). */
    networkProfile: networkProfile(),
    lastHeartbeatAt: timestamp({ withTimezone: true }),
    enrolledAt: timestamp({ withTimezone: true }),
    desiredVersion: bigint({ mode: "number" }).notNull().default(0),
    appliedVersion: bigint({ mode: "number" }).notNull().default(0),
    ...timestamps,
  },
  (t) => [
    index().on(t.state, t.createdAt),
    uniqueIndex("instances_live_name_key").on(t.name).where(sql`${t.state} <> 'deleted'`),
  ],
);
