/**
 * SDWAN topology rows: host bridges (one per allocation on a node, `pwnbr-<short id>`, linux or OVS),
 * IPFIX collectors (where OVS bridges export flow records), VRFs (one per node and network: its own
 * routing table) and route leaks between networks' VRFs. Compiled into each node's `sdwan`
 * section (hub/src/sdwan/).
 */
import { sql } from "drizzle-orm";
import { boolean, index, integer, pgEnum, pgTable, text, uniqueIndex, uuid } from "drizzle-orm/pg-core";
import { timestamps } from "./common.ts";
import { instances } from "./instances.ts";
import { networks } from "./networks.ts";

export const hostBridgeKind = pgEnum("host_bridge_kind", ["linux", "ovs"]);
/** active -> draining -> removed; a removed row is re-adopted by the next allocation of its kind. */
export const hostBridgeState = pgEnum("host_bridge_state", ["active", "draining", "removed"]);

export const hostBridges = pgTable(
  "host_bridges",
  {
    id: uuid().primaryKey().defaultRandom(),
    nodeId: uuid()
      .notNull()
      .references(() => instances.id, { onDelete: "cascade" }),
    /** 1, 2, ... per node, never reused by another row. */
    shortId: integer().notNull(),
    /** `pwnbr-<short id>` (an interface name: at most 15 bytes). */
    name: text().notNull(),
    kind: hostBridgeKind().notNull(),
    state: hostBridgeState().notNull().default("active"),
    ...timestamps,
  },
  (t) => [uniqueIndex().on(t.nodeId, t.shortId), index().on(t.nodeId, t.state)],
);

export const ipfixCollectors = pgTable(
  "ipfix_collectors",
  {
    id: uuid().primaryKey().defaultRandom(),
    /** DNS-label name, unique. */
    name: text().notNull(),
    /** An IP address or host name the nodes reach (IPv6 without brackets). */
    host: text().notNull(),
    port: integer().notNull().default(4739),
    /** One packet in `sampling` is sampled (OVS `sampling`). */
    sampling: integer().notNull().default(64),
    enabled: boolean().notNull().default(true),
    ...timestamps,
  },
  (t) => [uniqueIndex().on(t.name), index().on(t.enabled).where(sql`${t.enabled}`)],
);

/** One routing domain per (node, network): the network's interface is enslaved to `vrf_name`. */
export const vrfs = pgTable(
  "vrfs",
  {
    id: uuid().primaryKey().defaultRandom(),
    nodeId: uuid()
      .notNull()
      .references(() => instances.id, { onDelete: "cascade" }),
    networkId: uuid()
      .notNull()
      .references(() => networks.id, { onDelete: "cascade" }),
    /** `vrf-<network handle>` (at most 15 bytes). */
    vrfName: text().notNull(),
    /** The kernel routing table: never 0, 253, 254 or 255 (reserved), unique on the node. */
    tableId: integer().notNull(),
    ...timestamps,
  },
  (t) => [uniqueIndex().on(t.nodeId, t.networkId), uniqueIndex().on(t.nodeId, t.tableId)],
);

export const routeLeakState = pgEnum("route_leak_state", ["active", "revoked"]);

/** Routes of network `from` (matching `prefix`) imported into network `to`'s VRFs, one way. */
export const routeLeaks = pgTable(
  "route_leaks",
  {
    id: uuid().primaryKey().defaultRandom(),
    fromNetworkId: uuid()
      .notNull()
      .references(() => networks.id, { onDelete: "cascade" }),
    toNetworkId: uuid()
      .notNull()
      .references(() => networks.id, { onDelete: "cascade" }),
    /** The prefix filter: only routes within it leak (IPv6 CIDR, canonical). */
    prefix: text().notNull(),
    state: routeLeakState().notNull().default("active"),
    ...timestamps,
  },
  (t) => [index().on(t.toNetworkId, t.state)],
);
