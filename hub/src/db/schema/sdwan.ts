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

/** bootstrapping -> active; degraded while a database or northd is down (no ovn_control then). */
export const ovnDeploymentState = pgEnum("ovn_deployment_state", ["bootstrapping", "active", "degraded"]);

/** An OVN control plane: its northbound and southbound databases and northd, on one overlay network. */
export const ovnDeployments = pgTable(
  "ovn_deployments",
  {
    id: uuid().primaryKey().defaultRandom(),
    name: text().notNull(),
    /** `tcp:<host>:6641` / `ssl:...` */
    nbEndpoint: text().notNull(),
    sbEndpoint: text().notNull(),
    northdHost: text().notNull(),
    /** The overlay network whose addresses carry Geneve between chassis (`encap_ip`). */
    networkId: uuid()
      .notNull()
      .references(() => networks.id, { onDelete: "restrict" }),
    state: ovnDeploymentState().notNull().default("bootstrapping"),
    ...timestamps,
  },
  (t) => [uniqueIndex().on(t.name)],
);

export const ovnLogicalSwitches = pgTable(
  "ovn_logical_switches",
  {
    id: uuid().primaryKey().defaultRandom(),
    deploymentId: uuid()
      .notNull()
      .references(() => ovnDeployments.id, { onDelete: "cascade" }),
    name: text().notNull(),
    /** IPv4 or IPv6 CIDR (`other_config:subnet`). */
    subnet: text().notNull(),
    ...timestamps,
  },
  (t) => [uniqueIndex().on(t.deploymentId, t.name)],
);

export const ovnLogicalRouters = pgTable(
  "ovn_logical_routers",
  {
    id: uuid().primaryKey().defaultRandom(),
    deploymentId: uuid()
      .notNull()
      .references(() => ovnDeployments.id, { onDelete: "cascade" }),
    name: text().notNull(),
    ...timestamps,
  },
  (t) => [uniqueIndex().on(t.deploymentId, t.name)],
);

export const ovnPortKind = pgEnum("ovn_port_kind", ["vm", "container", "router"]);

/** A logical switch port: a workload's (on a node) or a router's attachment. */
export const ovnLogicalPorts = pgTable(
  "ovn_logical_ports",
  {
    id: uuid().primaryKey().defaultRandom(),
    switchId: uuid()
      .notNull()
      .references(() => ovnLogicalSwitches.id, { onDelete: "cascade" }),
    name: text().notNull(),
    kind: ovnPortKind().notNull(),
    /** The chassis (node) a vm/container port is bound on. */
    nodeId: uuid().references(() => instances.id, { onDelete: "cascade" }),
    /** router ports: the router. */
    routerId: uuid().references(() => ovnLogicalRouters.id, { onDelete: "cascade" }),
    /** The port's IP (no length). */
    address: text().notNull(),
    /** `02:..` (locally administered), allocated from the port's id. */
    mac: text().notNull(),
    ...timestamps,
  },
  (t) => [uniqueIndex().on(t.switchId, t.name)],
);

export const ovnAclDirection = pgEnum("ovn_acl_direction", ["from-lport", "to-lport"]);
export const ovnAclAction = pgEnum("ovn_acl_action", ["allow", "allow-related", "drop", "reject"]);

export const ovnAcls = pgTable("ovn_acls", {
  id: uuid().primaryKey().defaultRandom(),
  switchId: uuid()
    .notNull()
    .references(() => ovnLogicalSwitches.id, { onDelete: "cascade" }),
  direction: ovnAclDirection().notNull(),
  priority: integer().notNull(),
  /** An OVN match expression (`ip4.src == 10.10.0.0/24 && tcp.dst == 22`). */
  match: text().notNull(),
  action: ovnAclAction().notNull(),
  ...timestamps,
});
