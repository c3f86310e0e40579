/** Versioned desired-state documents, one row per (instance, version); the instance row holds the current number. */
import type { JsonValue } from "@bufbuild/protobuf";
import { bigint, jsonb, pgTable, unique, uuid } from "drizzle-orm/pg-core";
import { timestamps } from "./common.ts";
import { instances } from "./instances.ts";

/** A stored document: the protobuf JSON of `powernode.v1.DesiredState` without its version. */
export type DesiredStateDocument = JsonValue;

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
