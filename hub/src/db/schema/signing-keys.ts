/** The hub's signing keys (one row per purpose, e.g. "modules"): ECDSA P-256, the private key sealed. */
import { pgTable, text } from "drizzle-orm/pg-core";
import { timestamps } from "./common.ts";

export const signingKeys = pgTable("signing_keys", {
  /** The purpose: "modules" signs module manifests. */
  id: text().primaryKey(),
  /** PKCS#8 PEM sealed with the key-encryption key (context `signing:<id>`). */
  keyPem: text().notNull(),
  /** SPKI PEM: what nodes verify with. */
  publicPem: text().notNull(),
  ...timestamps,
});
