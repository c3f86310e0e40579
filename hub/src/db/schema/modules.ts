/** The module catalog: modules and their published versions with the digests nodes verify. */
import { bigint, index, integer, jsonb, pgTable, text, unique, uuid } from "drizzle-orm/pg-core";
import { timestamps } from "./common.ts";

export const modules = pgTable("modules", {
  id: uuid().primaryKey().defaultRandom(),
  name: text().notNull().unique(),
  description: text().notNull().default(""),
  priority: integer().notNull().default(0),
  ...timestamps,
});

export const moduleVersions = pgTable(
  "module_versions",
  {
    id: uuid().primaryKey().defaultRandom(),
    moduleId: uuid()
      .notNull()
      .references(() => modules.id, { onDelete: "cascade" }),
    version: text().notNull(),
    arch: text().$type<"amd64" | "arm64">().notNull(),
    fsverityDigest: text().notNull(),
    verityRootHash: text().notNull(),
    ociDigest: text().notNull().default(""),
    /**
     * The registry holding the artifact (`host[:port]` of a `registries` row, repository
     * `modules/<name>`); "" = the hub's own registry.
     */
    origin: text().notNull().default(""),
    /** The Debian packages it ships at exact versions (its build's list; [] if not built from packages). */
    packages: jsonb().$type<{ name: string; version: string }[]>().notNull().default([]),
    /** cosign simple-signing payload for `ociDigest` and its signature by the hub's module key ("" unsigned). */
    signaturePayload: text().notNull().default(""),
    signature: text().notNull().default(""),
    metadataSize: bigint({ mode: "number" }).notNull().default(0),
    blobSize: bigint({ mode: "number" }).notNull().default(0),
    ...timestamps,
  },
  (t) => [unique().on(t.moduleId, t.version, t.arch), index().on(t.moduleId)],
);
