/**
 * The disk-image CI webhook (hub/src/disk-images): the webhooks CI systems sign their reports with
 * (secret sealed, context `disk-image-webhook:<id>`) and one publication row per (platform, git sha).
 */
import { bigint, index, pgTable, text, timestamp, uniqueIndex, uuid } from "drizzle-orm/pg-core";
import { timestamps } from "./common.ts";

export const diskImageWebhooks = pgTable("disk_image_webhooks", {
  id: uuid().primaryKey().defaultRandom(),
  name: text().notNull().unique(),
  /** The secret, sealed. */
  secret: text().notNull(),
  secretPreview: text().notNull(),
  status: text().$type<"active" | "disabled">().notNull().default("active"),
  receivedCount: bigint({ mode: "number" }).notNull().default(0),
  lastReceivedAt: timestamp({ withTimezone: true }),
  ...timestamps,
});

export const diskImagePublications = pgTable(
  "disk_image_publications",
  {
    id: uuid().primaryKey().defaultRandom(),
    webhookId: uuid().references(() => diskImageWebhooks.id, { onDelete: "set null" }),
    platform: text().notNull(),
    gitSha: text().notNull(),
    sha256: text().notNull(),
    sizeBytes: bigint({ mode: "number" }).notNull(),
    ociRef: text().notNull(),
    firmwareRef: text().notNull().default(""),
    arch: text().$type<"amd64" | "arm64">().notNull(),
    status: text().$type<"queued" | "published" | "failed">().notNull().default("queued"),
    errorMessage: text(),
    verifiedAt: timestamp({ withTimezone: true }),
    ...timestamps,
  },
  (t) => [uniqueIndex().on(t.platform, t.gitSha), index().on(t.status)],
);
