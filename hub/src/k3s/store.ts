/**
 * The k3s feature's reads and its transaction helper: a node and its SDWAN peer, a cluster by id or
 * name, the cluster a node is in, the cluster a joining node gets. Errors name the field and what is
 * missing ("SDWAN", "no Kubernetes cluster").
 */
import type { EventKind } from "@powernode/proto";
import { asc, desc, eq, ne } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import {
  instances,
  k3sClusterNodes,
  k3sClusters,
  type networkMembers,
  type networks,
} from "../db/schema/index.ts";
import type { Deps } from "../deps.ts";
import type { Tx } from "../desired-state/index.ts";
import { DomainError } from "../errors.ts";
import type { EmitOptions, FleetEventRecord, NewEvent } from "../events/index.ts";
import { membershipsOf } from "../network/networks.ts";
import { isUuid } from "../rpc/fields.ts";

export type ClusterRow = typeof k3sClusters.$inferSelect;
export type ClusterNodeRow = typeof k3sClusterNodes.$inferSelect;
export type InstanceRow = typeof instances.$inferSelect;
export type NetworkRow = typeof networks.$inferSelect;
export type MemberRow = typeof networkMembers.$inferSelect;
export type Emit = (kind: EventKind, payload: Record<string, unknown>, opts?: EmitOptions) => void;

/** Runs `fn` in a transaction; the events it emits are written in it and published after commit. */
export async function transact<T>(
  deps: Pick<Deps, "db" | "events">,
  fn: (tx: Tx, emit: Emit) => Promise<T>,
): Promise<T> {
  let written: FleetEventRecord[] = [];
  const out = await deps.db.transaction(async (tx) => {
    const pending: NewEvent[] = [];
    const r = await fn(tx, (kind, payload, opts) =>
      pending.push({ kind: kind.kind, severity: kind.severity, payload, ...(opts ? { opts } : {}) }),
    );
    written = await deps.events.insert(tx, pending);
    return r;
  });
  deps.events.publish(written);
  return out;
}

/** The node's row, locked for the transaction; not_found naming `field` when there is none. */
export async function lockNode(tx: Tx, nodeId: string, field = "node_id"): Promise<InstanceRow> {
  const [node] = await tx.select().from(instances).where(eq(instances.id, nodeId)).for("update");
  if (!node || node.state === "deleted") throw new DomainError("not_found", `${field}: no node ${nodeId}`);
  return node;
}

/**
 * The node's SDWAN peer: its membership in `networkId` (when given), else in its only network or the
 * first by name. None is `precondition`, saying SDWAN.
 */
export async function sdwanPeerOf(
  tx: Db | Tx,
  node: Pick<InstanceRow, "id" | "name">,
  networkId?: string,
): Promise<{ network: NetworkRow; member: MemberRow }> {
  const first = (await membershipsOf(tx, node.id)).find((m) => !networkId || m.network.id === networkId);
  if (!first)
    throw new DomainError(
      "precondition",
      `node ${node.name} (${node.id}) has no SDWAN peer${networkId ? ` in network ${networkId}` : ""}: ` +
        "join it to an overlay network first (pnctl net join <network> <node>)",
    );
  return first;
}

/** A cluster by id or name; not_found naming `field`. */
export async function resolveCluster(db: Db | Tx, ref: string, field = "cluster"): Promise<ClusterRow> {
  if (ref === "") throw new DomainError("invalid_argument", `${field}: required (an id or a name)`);
  const lower = ref.toLowerCase();
  const where = isUuid(lower) ? eq(k3sClusters.id, lower) : eq(k3sClusters.name, ref);
  const [row] = await db.select().from(k3sClusters).where(where);
  if (!row) throw new DomainError("not_found", `${field}: no Kubernetes cluster "${ref}"`);
  return row;
}

/** The node's cluster membership, if any. */
export async function clusterNodeOf(
  db: Db | Tx,
  nodeId: string,
): Promise<{ node: ClusterNodeRow; cluster: ClusterRow } | undefined> {
  const [row] = await db
    .select({ node: k3sClusterNodes, cluster: k3sClusters })
    .from(k3sClusterNodes)
    .innerJoin(k3sClusters, eq(k3sClusters.id, k3sClusterNodes.clusterId))
    .where(eq(k3sClusterNodes.instanceId, nodeId));
  return row;
}

/**
 * The cluster a node joins: `clusterId` when given (it must exist and not be in error), else the
 * node's own, else the newest cluster not in error. None: `precondition` "no Kubernetes cluster".
 */
export async function clusterToJoin(db: Db | Tx, nodeId: string, clusterId?: string): Promise<ClusterRow> {
  if (clusterId) {
    const c = await resolveCluster(db, clusterId, "cluster_id");
    if (c.status === "error")
      throw new DomainError("precondition", `cluster_id: cluster ${c.name} is in error; it takes no nodes`);
    return c;
  }
  const own = await clusterNodeOf(db, nodeId);
  if (own) return own.cluster;
  const [newest] = await db
    .select()
    .from(k3sClusters)
    .where(ne(k3sClusters.status, "error"))
    .orderBy(desc(k3sClusters.createdAt))
    .limit(1);
  if (!newest)
    throw new DomainError(
      "precondition",
      "no Kubernetes cluster available to join: create one (K3sService.CreateCluster) or bootstrap a server",
    );
  return newest;
}

/** The node rows of a cluster, servers first, then by name. */
export async function clusterNodes(db: Db | Tx, clusterId: string): Promise<ClusterNodeRow[]> {
  return db
    .select()
    .from(k3sClusterNodes)
    .where(eq(k3sClusterNodes.clusterId, clusterId))
    .orderBy(asc(k3sClusterNodes.role), asc(k3sClusterNodes.name));
}

/**
 * Refuses a node's own move (RegisterNode, MarkReady, Bootstrap) while an operator's drain holds it
 * out: only the operator's AddNode returns a drained node to service.
 */
export function assertNotDrained(own: { node: ClusterNodeRow; cluster: ClusterRow }): void {
  if (own.node.drainedAt)
    throw new DomainError(
      "precondition",
      `node ${own.node.name} was drained from cluster ${own.cluster.name} at ${own.node.drainedAt.toISOString()}; an operator's AddNode returns it`,
    );
}
