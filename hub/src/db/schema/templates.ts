/** Templates: named module sets instances are created from. */
import { jsonb, pgTable, text, uuid } from "drizzle-orm/pg-core";
import { timestamps } from "./common.ts";

/** A module by name; an empty version means the newest published for the instance's arch. */
export interface ModuleRefDocument {
  name: string;
  version: string;
  /** Environment for the module's services on the node (absent: none). */
  env?: Record<string, string>;
}

export const templates = pgTable("templates", {
  id: uuid().primaryKey().defaultRandom(),
  name: text().notNull().unique(),
  modules: jsonb().$type<ModuleRefDocument[]>().notNull().default([]),
  ...timestamps,
});
