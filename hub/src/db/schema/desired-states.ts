/** Versioned desired-state documents, one row per (instance, version); the instance row holds the current number. */
import { bigint, jsonb, pgTable, unique, uuid } from "drizzle-orm/pg-core";
import { timestamps } from "./common.ts";
import { instances } from "./instances.ts";

/** The JSON shape of a desired-state document (mirrors powernode.v1.DesiredState). */
export interface DesiredStateDocument {
  modules: {
    name: string;
    version: string;
    priority: number;
    ociReference: string;
    metadataDigest: string;
    verityRootHash: string;
  }[];
  extra: Record<string, unknown>;
}

export const desiredStates = pgTable(
  "desired_states",
  {
    id: uuid().primaryKey().defaultRandom(),
    instanceId: uuid()
      .notNull()
      .references(() => instances.id, { onDelete: "cascade" }),
    version: bigint({ mode: "number" }).notNull(),
    document: jsonb().$type<DesiredStateDocument>().notNull(),
    ...timestamps,
  },
  (t) => [unique().on(t.instanceId, t.version)],
);
