/**
 * ACME (hub/src/certs): the account at each directory, the DNS providers answering DNS-01 challenges,
 * the managed certificates and their versions. Private keys and provider secrets are stored sealed
 * with the hub's key-encryption key (ca/key-at-rest.ts; contexts `acme-account:<id>`,
 * `dns-provider:<id>`, `acme-cert:<version id>`).
 */
import { index, integer, jsonb, pgEnum, pgTable, text, timestamp, uuid } from "drizzle-orm/pg-core";
import { timestamps } from "./common.ts";

export const acmeAccounts = pgTable("acme_accounts", {
  id: uuid().primaryKey().defaultRandom(),
  directoryUrl: text().notNull().unique(),
  email: text(),
  /** The account URL the server answered (its `kid`). */
  accountUrl: text(),
  keyPem: text().notNull(),
  ...timestamps,
});

export const dnsProviders = pgTable("dns_providers", {
  id: uuid().primaryKey().defaultRandom(),
  name: text().notNull().unique(),
  type: text().notNull(),
  settings: jsonb().$type<Record<string, string>>().notNull(),
  /** Sealed; null when the provider has none (challtestsrv). */
  secret: text(),
  ...timestamps,
});

export const acmeCertificateStatus = pgEnum("acme_certificate_status", ["pending", "valid", "failed"]);

export const acmeCertificates = pgTable("acme_certificates", {
  id: uuid().primaryKey().defaultRandom(),
  name: text().notNull().unique(),
  domains: jsonb().$type<string[]>().notNull(),
  dnsProviderId: uuid()
    .notNull()
    .references(() => dnsProviders.id, { onDelete: "restrict" }),
  status: acmeCertificateStatus().notNull().default("pending"),
  renewAfter: timestamp({ withTimezone: true }),
  /** `ari` or `lifetime`. */
  renewAfterSource: text(),
  failures: integer().notNull().default(0),
  lastError: text(),
  failedStep: text(),
  nextAttemptAt: timestamp({ withTimezone: true }),
  ...timestamps,
});

export const acmeCertificateVersionState = pgEnum("acme_certificate_version_state", ["active", "retiring"]);

export const acmeCertificateVersions = pgTable(
  "acme_certificate_versions",
  {
    id: uuid().primaryKey().defaultRandom(),
    certificateId: uuid()
      .notNull()
      .references(() => acmeCertificates.id, { onDelete: "cascade" }),
    state: acmeCertificateVersionState().notNull(),
    serial: text().notNull(),
    certPem: text().notNull(),
    chainPem: text().notNull(),
    keyPem: text().notNull(),
    notBefore: timestamp({ withTimezone: true }).notNull(),
    notAfter: timestamp({ withTimezone: true }).notNull(),
    retireAt: timestamp({ withTimezone: true }),
    createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index("acme_certificate_versions_certificate_idx").on(t.certificateId)],
);
