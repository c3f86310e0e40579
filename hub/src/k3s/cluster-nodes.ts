/**
 * Nodes joining and leaving clusters: the join request (endpoint + token), registration (node row
 * joining, node_count), readiness (active; a ready server makes its cluster active) and stop
 * (disconnected; a cluster whose servers are all disconnected is disconnected), and an operator's drain
 * (the same, logged in the cluster's bootstrap events). Every joining node needs an SDWAN peer in the
 * cluster's network and a profile that fits the cluster's CNI.
 */
import { EVENTS } from "@powernode/proto";
import { and, eq, sql } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { k3sClusterNodes, k3sClusters } from "../db/schema/index.ts";
import type { Deps } from "../deps.ts";
import type { Tx } from "../desired-state/index.ts";
import { DomainError } from "../errors.ts";
import { retireVipHolder } from "../network/vip-failover.ts";
import { addVipHolder } from "../network/vips.ts";
import { appendBootstrapEvent } from "./bootstrap-events.ts";
import { assertCniFitsProfile } from "./cni.ts";
import { openSecret } from "./secrets.ts";
import {
  assertNotDrained,
  type ClusterNodeRow,
  type ClusterRow,
  clusterNodeOf,
  clusterToJoin,
  type Emit,
  type InstanceRow,
  lockNode,
  resolveCluster,
  sdwanPeerOf,
  transact,
} from "./store.ts";

type NodeDeps = Pick<Deps, "db" | "events" | "keys" | "desiredState" | "now">;
export type Role = ClusterNodeRow["role"];

/** Checks that `node` may be in `cluster`: its SDWAN peer there, its profile against the CNI. */
/** Refuses a node without a peer in the cluster's network, or whose profile does not fit its CNI; returns the peer. */
async function assertMayJoin(tx: Db | Tx, node: InstanceRow, cluster: ClusterRow) {
  const peer = await sdwanPeerOf(tx, node, cluster.networkId);
  assertCniFitsProfile(cluster.cni, node, cluster.name);
  return peer;
}

/** JoinRequest: the cluster's endpoint and the token for `role` (agent token, or server token). */
export async function joinRequest(
  deps: NodeDeps,
  nodeId: string,
  input: { clusterId?: string; role: Role },
): Promise<{ clusterId: string; apiEndpoint: string; token: string }> {
  const cluster = await deps.db.transaction(async (tx) => {
    const node = await lockNode(tx, nodeId);
    const c = await clusterToJoin(tx, nodeId, input.clusterId);
    await assertMayJoin(tx, node, c);
    return c;
  });
  const sealed = input.role === "server" ? cluster.serverToken : cluster.agentToken;
  const column = input.role === "server" ? "server-token" : "agent-token";
  return {
    clusterId: cluster.id,
    apiEndpoint: cluster.apiEndpoint,
    token: openSecret(deps.keys, cluster.id, column, sealed),
  };
}

/**
 * Inserts or updates the node's row in `cluster` (status joining); node_count follows the rows. The
 * operator's AddNode lifts a drain; the node's own RegisterNode is refused while it holds (as are its
 * MarkReady and Bootstrap).
 */
async function upsertNode(
  tx: Tx,
  emit: Emit,
  node: InstanceRow,
  cluster: ClusterRow,
  input: { role: Role; version?: string; by: "operator" | "node" },
  now: Date,
): Promise<{ row: ClusterNodeRow; nodeCount: number }> {
  const { member } = await assertMayJoin(tx, node, cluster);
  const own = await clusterNodeOf(tx, node.id);
  if (own && own.cluster.id !== cluster.id)
    throw new DomainError(
      "already_exists",
      `node_id: node ${node.name} is already in cluster ${own.cluster.name}`,
    );
  if (own && input.by === "node") assertNotDrained(own);
  let row: ClusterNodeRow | undefined;
  let nodeCount = cluster.nodeCount;
  if (own) {
    [row] = await tx
      .update(k3sClusterNodes)
      .set({
        role: input.role,
        status: "joining",
        version: input.version || own.node.version,
        drainedAt: null,
        updatedAt: now,
      })
      .where(eq(k3sClusterNodes.id, own.node.id))
      .returning();
  } else {
    [row] = await tx
      .insert(k3sClusterNodes)
      .values({
        clusterId: cluster.id,
        instanceId: node.id,
        name: node.name,
        role: input.role,
        version: input.version || null,
      })
      .returning();
    const [c] = await tx
      .update(k3sClusters)
      .set({
        nodeCount: sql`${k3sClusters.nodeCount} + 1`,
        bootstrapEvents: appendBootstrapEvent(cluster.bootstrapEvents, {
          at: now,
          phase: "join",
          status: "joining",
          message: `${node.name} joins as ${input.role}`,
        }),
        updatedAt: now,
      })
      .where(eq(k3sClusters.id, cluster.id))
      .returning({ nodeCount: k3sClusters.nodeCount });
    nodeCount = c?.nodeCount ?? nodeCount + 1;
  }
  if (!row) throw new Error(`cluster node ${node.name}: no row returned`);
  if (input.role === "server" && cluster.apiVipId) await addVipHolder(tx, cluster.apiVipId, member.id);
  emit(
    EVENTS.k3sNodeJoining,
    { clusterId: cluster.id, cluster: cluster.name, role: input.role, nodeCount },
    { nodeId: node.id },
  );
  return { row, nodeCount };
}

/** AddNode (operator): puts a node in a cluster; its desired state gets the k3s section. */
export async function addNode(
  deps: NodeDeps,
  input: { cluster: string; nodeId: string; role: Role },
): Promise<ClusterNodeRow> {
  const out = await transact(deps, async (tx, emit) => {
    const cluster = await resolveCluster(tx, input.cluster);
    const node = await lockNode(tx, input.nodeId);
    return upsertNode(tx, emit, node, cluster, { role: input.role, by: "operator" }, deps.now());
  });
  await deps.desiredState.change(input.nodeId);
  return out.row;
}

/** RegisterNode (node): the node's k3s started joining; node row joining, node_count. */
export async function registerNode(
  deps: NodeDeps,
  nodeId: string,
  input: { clusterId?: string; role: Role; version: string },
): Promise<{ row: ClusterNodeRow; nodeCount: number }> {
  const out = await transact(deps, async (tx, emit) => {
    const node = await lockNode(tx, nodeId);
    const cluster = await clusterToJoin(tx, nodeId, input.clusterId);
    return upsertNode(tx, emit, node, cluster, { ...input, by: "node" }, deps.now());
  });
  await deps.desiredState.change(nodeId);
  return out;
}

/** The node's row and cluster, or precondition saying it is in no Kubernetes cluster. */
async function ownRow(
  tx: Tx,
  nodeId: string,
): Promise<{ node: ClusterNodeRow; cluster: ClusterRow; inst: InstanceRow }> {
  const inst = await lockNode(tx, nodeId);
  const own = await clusterNodeOf(tx, nodeId);
  if (!own) throw new DomainError("precondition", `node ${inst.name} is in no Kubernetes cluster`);
  return { ...own, inst };
}

/**
 * MarkReady (node): node active with its version; a ready server makes the cluster active. A drained
 * node is refused: k3s coming back on a drained machine does not undo the operator's drain.
 */
export async function markReady(
  deps: NodeDeps,
  nodeId: string,
  input: { version: string },
): Promise<{ row: ClusterNodeRow; clusterStatus: ClusterRow["status"] }> {
  return transact(deps, async (tx, emit) => {
    const { node, cluster } = await ownRow(tx, nodeId);
    assertNotDrained({ node, cluster });
    const now = deps.now();
    const [row] = await tx
      .update(k3sClusterNodes)
      .set({ status: "active", version: input.version || node.version, lastHeartbeatAt: now, updatedAt: now })
      .where(eq(k3sClusterNodes.id, node.id))
      .returning();
    if (!row) throw new Error(`cluster node ${node.name}: no row returned`);
    emit(EVENTS.k3sNodeReady, { clusterId: cluster.id, role: node.role, version: input.version }, { nodeId });
    let status = cluster.status;
    if (node.role === "server" && status !== "active" && status !== "error") {
      status = "active";
      await tx
        .update(k3sClusters)
        .set({
          status,
          version: input.version || cluster.version,
          bootstrapEvents: appendBootstrapEvent(cluster.bootstrapEvents, {
            at: now,
            phase: "ready",
            status: "active",
            message: `server ${node.name} ready`,
          }),
          updatedAt: now,
        })
        .where(eq(k3sClusters.id, cluster.id));
      emit(EVENTS.k3sClusterActive, { clusterId: cluster.id, name: cluster.name }, { nodeId });
    }
    return { row, clusterStatus: status };
  });
}

/** Whether a cluster still has an active server. */
export async function hasActiveServer(tx: Db | Tx, clusterId: string): Promise<boolean> {
  const [running] = await tx
    .select({ id: k3sClusterNodes.id })
    .from(k3sClusterNodes)
    .where(
      and(
        eq(k3sClusterNodes.clusterId, clusterId),
        eq(k3sClusterNodes.role, "server"),
        eq(k3sClusterNodes.status, "active"),
      ),
    )
    .limit(1);
  return running !== undefined;
}

/**
 * Sets a cluster node disconnected (k3s on it stopped, or it was drained); an active cluster left
 * without an active server is disconnected. `logged` also appends a bootstrap event to the cluster.
 */
async function disconnectNode(
  tx: Tx,
  emit: Emit,
  own: { node: ClusterNodeRow; cluster: ClusterRow },
  input: { reason: string; now: Date; logged?: { phase: string; message: string }; drained?: boolean },
): Promise<{ row: ClusterNodeRow; clusterStatus: ClusterRow["status"] }> {
  const { node, cluster } = own;
  const { now, logged } = input;
  const [row] = await tx
    .update(k3sClusterNodes)
    .set({ status: "disconnected", ...(input.drained ? { drainedAt: now } : {}), updatedAt: now })
    .where(eq(k3sClusterNodes.id, node.id))
    .returning();
  if (!row) throw new Error(`cluster node ${node.name}: no row returned`);
  emit(
    EVENTS.k3sNodeStopped,
    { clusterId: cluster.id, role: node.role, reason: input.reason },
    { nodeId: node.instanceId },
  );
  const disconnect = cluster.status === "active" && !(await hasActiveServer(tx, cluster.id));
  if (disconnect || logged)
    await tx
      .update(k3sClusters)
      .set({
        ...(disconnect ? { status: "disconnected" as const } : {}),
        ...(logged
          ? {
              bootstrapEvents: appendBootstrapEvent(cluster.bootstrapEvents, {
                at: now,
                phase: logged.phase,
                status: "disconnected",
                message: logged.message,
              }),
            }
          : {}),
        updatedAt: now,
      })
      .where(eq(k3sClusters.id, cluster.id));
  return { row, clusterStatus: disconnect ? "disconnected" : cluster.status };
}

/** MarkStopped (node): node disconnected; with no server left running the cluster is disconnected. */
export async function markStopped(
  deps: NodeDeps,
  nodeId: string,
  input: { reason: string },
): Promise<ClusterNodeRow> {
  return transact(deps, async (tx, emit) => {
    const { node, cluster } = await ownRow(tx, nodeId);
    return (await disconnectNode(tx, emit, { node, cluster }, { reason: input.reason, now: deps.now() })).row;
  });
}

/**
 * DrainNode (operator): takes a node of `cluster` out of service before its machine goes: as
 * MarkStopped, plus a `drain` bootstrap event naming the node's instance id, and the row marked
 * drained: the node's own RegisterNode, MarkReady and Bootstrap are refused until an operator's
 * AddNode (whatever its agent reports, the hub keeps it out of service). The node keeps its k3s section;
 * deleting its instance removes it from the cluster (deleted-nodes.ts).
 */
export async function drainNode(
  deps: NodeDeps & Pick<Deps, "cluster" | "config" | "log">,
  input: { cluster: string; nodeId: string; reason: string },
): Promise<{ row: ClusterNodeRow; clusterStatus: ClusterRow["status"] }> {
  const out = await transact(deps, async (tx, emit) => {
    const named = await resolveCluster(tx, input.cluster);
    const { node, cluster, inst } = await ownRow(tx, input.nodeId);
    if (cluster.id !== named.id)
      throw new DomainError(
        "precondition",
        `node_id: node ${inst.name} is in cluster ${cluster.name}, not ${named.name}`,
      );
    const reason = input.reason || "drained by an operator";
    return disconnectNode(
      tx,
      emit,
      { node, cluster },
      {
        reason,
        now: deps.now(),
        drained: true,
        logged: {
          phase: "drain",
          message: `${node.role} ${inst.name} (instance ${inst.id}) drained: ${reason}`,
        },
      },
    );
  });
  // A drained server no longer serves the API VIP: it fails over first when it holds it.
  const [c] = await deps.db.select().from(k3sClusters).where(eq(k3sClusters.id, out.row.clusterId));
  if (out.row.role === "server" && c?.apiVipId) await retireVipHolder(deps, c.apiVipId, input.nodeId);
  return out;
}

/** `role` from a request: "" -> `fallback`, server or agent, else invalid_argument naming the field. */
export function parseRole(field: string, v: string, fallback: Role = "agent"): Role {
  if (v === "") return fallback;
  if (v === "server" || v === "agent") return v;
  throw new DomainError("invalid_argument", `${field}: "${v.slice(0, 64)}" is not a role (server or agent)`);
}
