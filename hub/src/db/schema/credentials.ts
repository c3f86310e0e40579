/** Credentials: bootstrap tokens, node certificates, the internal CA and operator tokens. */
import { index, pgTable, text, timestamp, uuid } from "drizzle-orm/pg-core";
import { timestamps } from "./common.ts";
import { instances } from "./instances.ts";

/** One-time enrollment tokens (1 hour, single use, bound to one instance); only the sha256 is kept. */
export const bootstrapTokens = pgTable(
  "bootstrap_tokens",
  {
    id: uuid().primaryKey().defaultRandom(),
    /** hex sha256 of the plaintext token. */
    tokenHash: text().notNull().unique(),
    instanceId: uuid()
      .notNull()
      .references(() => instances.id, { onDelete: "cascade" }),
    expiresAt: timestamp({ withTimezone: true }).notNull(),
    consumedAt: timestamp({ withTimezone: true }),
    consumedByIp: text(),
    /** Set when a newer token is issued for the same instance. */
    revokedAt: timestamp({ withTimezone: true }),
    ...timestamps,
  },
  (t) => [index().on(t.instanceId)],
);

/** Node certificates issued by the internal CA. */
export const certificates = pgTable(
  "certificates",
  {
    /** Hex serial number, as printed by openssl (lowercase, no colons). */
    serial: text().primaryKey(),
    instanceId: uuid()
      .notNull()
      .references(() => instances.id, { onDelete: "cascade" }),
    notBefore: timestamp({ withTimezone: true }).notNull(),
    notAfter: timestamp({ withTimezone: true }).notNull(),
    revokedAt: timestamp({ withTimezone: true }),
    pem: text().notNull(),
    ...timestamps,
  },
  (t) => [index().on(t.instanceId, t.notAfter)],
);

/** The internal CA (one row, id "root"): RSA key and self-signed certificate, PEM. */
export const ca = pgTable("ca", {
  id: text().primaryKey(),
  /** The key's PEM sealed with the hub's key-encryption key (ca/key-at-rest.ts, context `ca:root`). */
  keyPem: text().notNull(),
  certPem: text().notNull(),
  ...timestamps,
});

/**
 * Operator bearer tokens; only the sha256 is kept. `name` says where one came from: "admin" (made on
 * first start), "env" (POWERNODE_ADMIN_TOKEN; a new one revokes the earlier ones), or the name given
 * to `pnctl tokens create` (unique among live tokens). `lastUsedAt` is written at most once a minute.
 */
export const adminTokens = pgTable("admin_tokens", {
  id: uuid().primaryKey().defaultRandom(),
  tokenHash: text().notNull().unique(),
  name: text().notNull().default("admin"),
  lastUsedAt: timestamp({ withTimezone: true }),
  revokedAt: timestamp({ withTimezone: true }),
  ...timestamps,
});
