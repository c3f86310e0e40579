/**
 * K3s clusters and their nodes. A cluster lives in one overlay network: its API VIP is a network VIP
 * (network-vips.ts) and its pod subnet, when the network lends one, a subnet advertisement of the
 * bootstrap server. The kubeconfig and both tokens are stored sealed with the hub's key-encryption key
 * (ca/key-at-rest.ts, contexts `k3s-cluster:<id>:<column>`).
 */
import { sql } from "drizzle-orm";
import { index, integer, jsonb, pgEnum, pgTable, text, timestamp, uuid } from "drizzle-orm/pg-core";
import { timestamps } from "./common.ts";
import { instances } from "./instances.ts";
import { networkVips, subnetAdvertisements } from "./network-vips.ts";
import { networks } from "./networks.ts";

export const clusterFlavor = pgEnum("cluster_flavor", ["k3s"]);
export const clusterStatus = pgEnum("cluster_status", [
  "pending",
  "bootstrapping",
  "active",
  "degraded",
  "disconnected",
  "error",
]);
export const clusterCni = pgEnum("cluster_cni", ["flannel", "ovn_kubernetes"]);
export const clusterNodeRole = pgEnum("cluster_node_role", ["server", "agent"]);
export const clusterNodeStatus = pgEnum("cluster_node_status", ["joining", "active", "disconnected"]);

/** One step of a cluster's bootstrap, as kept in `bootstrap_events` (the last 50). */
export interface BootstrapEventDocument {
  ts: string;
  phase: string;
  status: string;
  message: string;
}

/** What a cluster records about its bootstrap. */
export interface ClusterMetadataDocument {
  bootstrapNodeId?: string;
  bootstrapOverlayAddress?: string;
  bootstrappedAt?: string;
  apiVipCidr?: string;
  sdwanNetworkId?: string;
}

export const k3sClusters = pgTable(
  "k3s_clusters",
  {
    id: uuid().primaryKey().defaultRandom(),
    name: text().notNull().unique(),
    flavor: clusterFlavor().notNull().default("k3s"),
    status: clusterStatus().notNull().default("pending"),
    cni: clusterCni().notNull().default("flannel"),
    version: text(),
    /** `https://[<API VIP>]:6443`. */
    apiEndpoint: text().notNull(),
    networkId: uuid()
      .notNull()
      .references(() => networks.id, { onDelete: "cascade" }),
    apiVipId: uuid().references(() => networkVips.id, { onDelete: "set null" }),
    podAdvertisementId: uuid().references(() => subnetAdvertisements.id, { onDelete: "set null" }),
    /** Sealed (`k3s-cluster:<id>:kubeconfig`); null before a server reported it. */
    kubeconfig: text(),
    /** Sealed (`k3s-cluster:<id>:server-token`): the hub's secret until a server reports `K10...`. */
    serverToken: text().notNull(),
    /** Sealed (`k3s-cluster:<id>:agent-token`). */
    agentToken: text().notNull(),
    /** Bumped when a token changes (nodes fetch it again). */
    tokenRevision: integer().notNull().default(1),
    nodeCount: integer().notNull().default(0),
    /** The pod CIDR lent by the network (flannel over SDWAN). */
    podCidr: text(),
    metadata: jsonb().$type<ClusterMetadataDocument>().notNull().default(sql`'{}'::jsonb`),
    bootstrapEvents: jsonb().$type<BootstrapEventDocument[]>().notNull().default(sql`'[]'::jsonb`),
    ...timestamps,
  },
  (t) => [index().on(t.networkId)],
);

export const k3sClusterNodes = pgTable(
  "k3s_cluster_nodes",
  {
    id: uuid().primaryKey().defaultRandom(),
    clusterId: uuid()
      .notNull()
      .references(() => k3sClusters.id, { onDelete: "cascade" }),
    /** A node is in at most one cluster. */
    instanceId: uuid()
      .notNull()
      .unique()
      .references(() => instances.id, { onDelete: "cascade" }),
    name: text().notNull(),
    role: clusterNodeRole().notNull(),
    status: clusterNodeStatus().notNull().default("joining"),
    version: text(),
    lastHeartbeatAt: timestamp({ withTimezone: true }),
    /** Set by DrainNode: the node's own Register/MarkReady/Bootstrap are refused until an operator's AddNode. */
    drainedAt: timestamp({ withTimezone: true }),
    ...timestamps,
  },
  (t) => [index().on(t.clusterId)],
);
