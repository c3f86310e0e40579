/**
 * K3s clusters: created by an operator around a first server (CreateCluster) or by a server's own
 * bootstrap report (Bootstrap), both in the server's overlay network with the API VIP there; refreshed
 * by every later bootstrap of the same server; decommissioned with their nodes, VIP and pod subnet.
 */
import { EVENTS } from "@powernode/proto";
import { eq } from "drizzle-orm";
import { k3sClusterNodes, k3sClusters } from "../db/schema/index.ts";
import type { Deps } from "../deps.ts";
import type { Tx } from "../desired-state/index.ts";
import { DomainError } from "../errors.ts";
import { republishMembers } from "../network/republish.ts";
import { advertiseSubnet, withdrawSubnet } from "../network/subnet-advertisements.ts";
import { createVip, deleteVip, getVip, setVipPrimary, vipAddress } from "../network/vips.ts";
import { appendBootstrapEvent } from "./bootstrap-events.ts";
import { assertCniFitsProfile, type Cni, defaultCniFor } from "./cni.ts";
import { newClusterSecret, sealSecret } from "./secrets.ts";
import {
  assertNotDrained,
  type ClusterRow,
  clusterNodeOf,
  clusterNodes,
  type Emit,
  type InstanceRow,
  lockNode,
  resolveCluster,
  sdwanPeerOf,
  transact,
} from "./store.ts";

type ClusterDeps = Pick<Deps, "db" | "events" | "keys" | "desiredState" | "now" | "cluster">;

/** What a server reports once k3s runs. */
export interface BootstrapReport {
  kubeconfig: string;
  serverToken: string;
  /** Empty: the server token. */
  agentToken: string;
  version: string;
  cni?: Cni;
}

interface NewCluster {
  node: InstanceRow;
  name?: string;
  cni?: Cni;
  networkId?: string;
  report?: BootstrapReport;
}

/** Inserts a cluster with its VIP, pod subnet (flannel over SDWAN) and first server node. */
async function insertCluster(deps: ClusterDeps, tx: Tx, emit: Emit, input: NewCluster): Promise<ClusterRow> {
  const { node, report } = input;
  const { network, member } = await sdwanPeerOf(tx, node, input.networkId);
  const name = input.name ?? `${node.name}-k8s`;
  const [dup] = await tx.select({ id: k3sClusters.id }).from(k3sClusters).where(eq(k3sClusters.name, name));
  if (dup) throw new DomainError("already_exists", `name: a Kubernetes cluster "${name}" exists`);
  const cni = input.cni ?? defaultCniFor(node.networkProfile);
  assertCniFitsProfile(cni, node, name);
  const id = crypto.randomUUID();
  const now = deps.now();
  const vip = await createVip(tx, {
    networkId: network.id,
    name: `${name}-api`,
    address: vipAddress(network.prefix, name),
    holderMemberIds: [member.id],
  });
  let podCidr: string | null = null;
  let podAdvertisementId: string | null = null;
  if (network.podSubnetPrefix && cni === "flannel") {
    podCidr = network.podSubnetPrefix;
    podAdvertisementId = (
      await advertiseSubnet(tx, {
        networkId: network.id,
        memberId: member.id,
        source: "pod_subnet",
        prefix: podCidr,
      })
    ).id;
  } else if (network.podSubnetPrefix)
    emit(
      EVENTS.podSubnetPrefixIgnored,
      { clusterId: id, cluster: name, networkId: network.id, prefix: network.podSubnetPrefix, cni },
      { nodeId: node.id },
    );
  const phase = report ? "bootstrap" : "create";
  const serverToken = report?.serverToken || newClusterSecret();
  const [cluster] = await tx
    .insert(k3sClusters)
    .values({
      id,
      name,
      status: report ? "bootstrapping" : "pending",
      cni,
      version: report?.version || null,
      apiEndpoint: `https://[${vip.address}]:6443`,
      networkId: network.id,
      apiVipId: vip.id,
      podAdvertisementId,
      kubeconfig: report ? sealSecret(deps.keys, id, "kubeconfig", report.kubeconfig) : null,
      serverToken: sealSecret(deps.keys, id, "server-token", serverToken),
      agentToken: sealSecret(deps.keys, id, "agent-token", report?.agentToken || serverToken),
      nodeCount: 1,
      podCidr,
      metadata: {
        bootstrapNodeId: node.id,
        bootstrapOverlayAddress: member.address,
        apiVipCidr: `${vip.address}/128`,
        ...(podCidr ? { sdwanNetworkId: network.id } : {}),
        ...(report ? { bootstrappedAt: now.toISOString() } : {}),
      },
      bootstrapEvents: appendBootstrapEvent([], {
        at: now,
        phase,
        status: "completed",
        message: `${report ? "bootstrapped" : "created"} by ${node.name} in network ${network.name}, API VIP ${vip.address}`,
      }),
    })
    .returning();
  if (!cluster) throw new Error(`cluster ${name}: no row returned`);
  await tx.insert(k3sClusterNodes).values({
    clusterId: id,
    instanceId: node.id,
    name: node.name,
    role: "server",
    status: report ? "active" : "joining",
    version: report?.version || null,
    lastHeartbeatAt: report ? now : null,
  });
  emit(
    report ? EVENTS.k3sClusterBootstrapped : EVENTS.k3sClusterCreated,
    { clusterId: id, name, cni, apiEndpoint: cluster.apiEndpoint, networkId: network.id, podCidr },
    { nodeId: node.id },
  );
  return cluster;
}

/** CreateCluster: a pending cluster whose first server is `nodeId`; the node's desired state gets it. */
export async function createCluster(
  deps: ClusterDeps,
  input: { nodeId: string; name?: string; cni?: Cni; networkId?: string },
): Promise<ClusterRow> {
  const cluster = await transact(deps, async (tx, emit) => {
    const node = await lockNode(tx, input.nodeId);
    const own = await clusterNodeOf(tx, node.id);
    if (own)
      throw new DomainError(
        "already_exists",
        `node_id: node ${node.name} is already in cluster ${own.cluster.name}`,
      );
    return insertCluster(deps, tx, emit, { ...input, node });
  });
  await deps.desiredState.change(input.nodeId);
  await republishVipHolder(deps, cluster);
  return cluster;
}

/**
 * Bootstrap: a server reports kubeconfig, tokens and version. Its cluster is refreshed when it is
 * already a server of one (same cluster; status pending -> bootstrapping; the VIP's primary holder),
 * else a cluster is created around it. An agent cannot bootstrap.
 */
export async function bootstrapCluster(
  deps: ClusterDeps,
  nodeId: string,
  report: BootstrapReport,
): Promise<{ cluster: ClusterRow; created: boolean }> {
  const out = await transact(deps, async (tx, emit) => {
    const node = await lockNode(tx, nodeId);
    const own = await clusterNodeOf(tx, node.id);
    if (!own)
      return {
        cluster: await insertCluster(deps, tx, emit, { node, report, cni: report.cni }),
        created: true,
        moved: undefined,
      };
    const { cluster, node: row } = own;
    assertNotDrained(own);
    if (row.role !== "server")
      throw new DomainError(
        "precondition",
        `node ${node.name} is an agent of cluster ${cluster.name}; only a server bootstraps`,
      );
    const now = deps.now();
    const agentToken = report.agentToken || report.serverToken;
    const first = cluster.kubeconfig === null;
    const [updated] = await tx
      .update(k3sClusters)
      .set({
        kubeconfig: sealSecret(deps.keys, cluster.id, "kubeconfig", report.kubeconfig),
        serverToken: sealSecret(deps.keys, cluster.id, "server-token", report.serverToken),
        agentToken: sealSecret(deps.keys, cluster.id, "agent-token", agentToken),
        tokenRevision: cluster.tokenRevision + 1,
        version: report.version || cluster.version,
        status: cluster.status === "pending" ? "bootstrapping" : cluster.status,
        metadata: {
          ...cluster.metadata,
          bootstrappedAt: cluster.metadata.bootstrappedAt ?? now.toISOString(),
        },
        bootstrapEvents: appendBootstrapEvent(cluster.bootstrapEvents, {
          at: now,
          phase: "bootstrap",
          status: first ? "completed" : "credentials_refreshed",
          message: `${node.name} reported ${report.version || "no version"}`,
        }),
        updatedAt: now,
      })
      .where(eq(k3sClusters.id, cluster.id))
      .returning();
    await tx
      .update(k3sClusterNodes)
      .set({ status: "active", version: report.version || row.version, lastHeartbeatAt: now, updatedAt: now })
      .where(eq(k3sClusterNodes.id, row.id));
    const { member } = await sdwanPeerOf(tx, node, cluster.networkId);
    // A server's first bootstrap makes it the VIP's primary (it runs the API now); a later one (every
    // agent restart reports again) leaves the VIP where failovers put it.
    const moved =
      cluster.apiVipId && first ? await setVipPrimary(tx, cluster.apiVipId, member.id) : undefined;
    emit(
      first ? EVENTS.k3sClusterBootstrapped : EVENTS.k3sCredentialsRefreshed,
      { clusterId: cluster.id, name: cluster.name, version: report.version },
      { nodeId: node.id },
    );
    return { cluster: updated ?? cluster, created: false, moved };
  });
  await deps.desiredState.change(nodeId);
  await republishVipHolder(deps, out.cluster, out.moved ? [out.moved] : []);
  return { cluster: out.cluster, created: out.created };
}

/**
 * Every peer routes the cluster's API VIP to its primary holder now (not at the next snapshot); a
 * previous primary (`moved`) loses the route, and its desired state drops the VIP from its interface.
 */
async function republishVipHolder(
  deps: ClusterDeps,
  cluster: ClusterRow,
  moved: readonly string[] = [],
): Promise<void> {
  const vip = cluster.apiVipId ? await getVip(deps.db, cluster.apiVipId) : undefined;
  if (!vip || !cluster.networkId) return;
  await republishMembers(deps, cluster.networkId, [...vip.holderMemberIds.slice(0, 1), ...moved], {
    recompile: moved,
  });
}

/** Deletes a cluster, its nodes (cascade), its API VIP and pod subnet; its nodes stop k3s. */
export async function decommissionCluster(
  deps: ClusterDeps,
  ref: string,
): Promise<{ clusterId: string; freedNodeCount: number }> {
  const out = await transact(deps, async (tx, emit) => {
    const cluster = await resolveCluster(tx, ref);
    const nodes = await clusterNodes(tx, cluster.id);
    const vip = cluster.apiVipId ? await getVip(tx, cluster.apiVipId) : undefined;
    await tx.delete(k3sClusters).where(eq(k3sClusters.id, cluster.id));
    if (cluster.apiVipId) await deleteVip(tx, cluster.apiVipId);
    if (cluster.podAdvertisementId) await withdrawSubnet(tx, cluster.podAdvertisementId);
    emit(EVENTS.k3sClusterDecommissioned, {
      clusterId: cluster.id,
      name: cluster.name,
      freedNodeCount: nodes.length,
    });
    return {
      clusterId: cluster.id,
      nodeIds: nodes.map((n) => n.instanceId),
      networkId: cluster.networkId,
      holders: vip?.holderMemberIds ?? [],
    };
  });
  for (const id of out.nodeIds) await deps.desiredState.change(id);
  // The VIP's /128 leaves its holder's AllowedIPs everywhere.
  if (out.networkId) await republishMembers(deps, out.networkId, out.holders.slice(0, 1));
  return { clusterId: out.clusterId, freedNodeCount: out.nodeIds.length };
}
