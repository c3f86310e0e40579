/**
 * Addresses a network hands out besides its members' own: virtual IPs (a /128 held by one or more
 * members, e.g. a K3s cluster's API VIP) and subnet advertisements (a prefix a member routes, e.g. a
 * cluster's pod subnet). Kept with the network so later users (storage, SDWAN routes) share them.
 */
import { sql } from "drizzle-orm";
import {
  boolean,
  index,
  jsonb,
  pgEnum,
  pgTable,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from "drizzle-orm/pg-core";
import { timestamps } from "./common.ts";
import { networkMembers, networks } from "./networks.ts";

export const vipState = pgEnum("vip_state", ["active", "inactive"]);

export const networkVips = pgTable(
  "network_vips",
  {
    id: uuid().primaryKey().defaultRandom(),
    networkId: uuid()
      .notNull()
      .references(() => networks.id, { onDelete: "cascade" }),
    /** What it is for, unique per network (`<cluster>-api`). */
    name: text().notNull(),
    /** The /128, canonical text without a length. */
    address: text().notNull(),
    /** Member ids (network_members.id) holding the address, primary first. */
    holderMemberIds: jsonb().$type<string[]>().notNull().default(sql`'[]'::jsonb`),
    state: vipState().notNull().default("active"),
    ...timestamps,
  },
  (t) => [uniqueIndex().on(t.networkId, t.address), uniqueIndex().on(t.networkId, t.name)],
);

export const subnetSource = pgEnum("subnet_source", ["pod_subnet"]);

export const subnetAdvertisements = pgTable(
  "subnet_advertisements",
  {
    id: uuid().primaryKey().defaultRandom(),
    networkId: uuid()
      .notNull()
      .references(() => networks.id, { onDelete: "cascade" }),
    /** The member that routes the prefix. */
    memberId: uuid()
      .notNull()
      .references(() => networkMembers.id, { onDelete: "cascade" }),
    source: subnetSource().notNull(),
    /** Canonical CIDR text ("10.42.0.0/16"). */
    prefix: text().notNull(),
    active: boolean().notNull().default(true),
    ...timestamps,
  },
  (t) => [index().on(t.networkId, t.active), index().on(t.memberId)],
);

/** Why a VIP's primary holder changed (one row per change, the VIP's history). */
export type VipAssignmentReason = "bootstrap" | "manual_failover" | "sensor_failover";

/**
 * The history of a VIP's primary holder (the predecessor's VirtualIpAssignment): one row per change,
 * naming the member it moved from and to and why; `correlationId` ties a drill's rows together.
 */
export const vipAssignments = pgTable(
  "vip_assignments",
  {
    id: uuid().primaryKey().defaultRandom(),
    vipId: uuid()
      .notNull()
      .references(() => networkVips.id, { onDelete: "cascade" }),
    /** null: the VIP's first holder. Not a foreign key: the row outlives the member. */
    fromMemberId: uuid(),
    toMemberId: uuid().notNull(),
    reason: text().$type<VipAssignmentReason>().notNull(),
    correlationId: text().notNull().default(""),
    createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index().on(t.vipId, t.createdAt)],
);
