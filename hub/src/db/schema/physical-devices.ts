/**
 * Unknown hardware in claim mode (hub/src/claims): one row per discovery, with the facts the device
 * reported, its claim code and the hash of its poll secret; bound to an instance once confirmed.
 */
import { sql } from "drizzle-orm";
import { index, integer, jsonb, pgTable, text, timestamp, uniqueIndex, uuid } from "drizzle-orm/pg-core";
import { timestamps } from "./common.ts";
import { instances } from "./instances.ts";

/** The facts as validated at the edge (claims/facts-input.ts). */
export interface DeviceFactsDocument {
  macs: string[];
  dmiUuid: string;
  serial: string;
  arch: "amd64" | "arm64";
  platformHint: string;
  model: string;
  cpus: number;
  memoryMib: number;
  agentVersion: string;
}

export const physicalDevices = pgTable(
  "physical_devices",
  {
    id: uuid().primaryKey().defaultRandom(),
    /** `XXXX-XXXX`; unique among pending devices. */
    claimCode: text().notNull(),
    /** pending | claimed | rejected (expired is pending past `expiresAt`). */
    status: text().$type<"pending" | "claimed" | "rejected">().notNull().default("pending"),
    /** What identifies the hardware across reboots: the DMI UUID, else the serial, else the first MAC. */
    deviceKey: text().notNull(),
    facts: jsonb().$type<DeviceFactsDocument>().notNull(),
    sourceAddress: text().notNull(),
    /** sha256 hex of the poll secret. */
    pollSecretHash: text().notNull(),
    expiresAt: timestamp({ withTimezone: true }).notNull(),
    instanceId: uuid().references(() => instances.id),
    decidedAt: timestamp({ withTimezone: true }),
    rejectReason: text(),
    polls: integer().notNull().default(0),
    ...timestamps,
  },
  (t) => [
    uniqueIndex().on(t.claimCode).where(sql`${t.status} = 'pending'`),
    index().on(t.deviceKey, t.createdAt),
  ],
);
