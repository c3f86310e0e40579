/** Rows -> K3s API messages. */
import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { K3sClusterSchema, K3sNodeSchema } from "@powernode/proto";
import type { ClusterNodeRow, ClusterRow } from "./store.ts";

export function toProtoCluster(c: ClusterRow): MessageInitShape<typeof K3sClusterSchema> {
  const bootstrappedAt = c.metadata.bootstrappedAt;
  return {
    id: c.id,
    name: c.name,
    flavor: c.flavor,
    status: c.status,
    cni: c.cni,
    version: c.version ?? "",
    apiEndpoint: c.apiEndpoint,
    networkId: c.networkId,
    apiVip: c.metadata.apiVipCidr?.replace(/\/128$/, "") ?? "",
    podCidr: c.podCidr ?? "",
    nodeCount: c.nodeCount,
    bootstrapNodeId: c.metadata.bootstrapNodeId ?? "",
    ...(bootstrappedAt ? { bootstrappedAt: timestampFromDate(new Date(bootstrappedAt)) } : {}),
    hasKubeconfig: c.kubeconfig !== null,
    bootstrapEvents: c.bootstrapEvents.map((e) => ({
      at: timestampFromDate(new Date(e.ts)),
      phase: e.phase,
      status: e.status,
      message: e.message,
    })),
    createdAt: timestampFromDate(c.createdAt),
    updatedAt: timestampFromDate(c.updatedAt),
  };
}

export function toProtoNode(n: ClusterNodeRow): MessageInitShape<typeof K3sNodeSchema> {
  return {
    id: n.id,
    clusterId: n.clusterId,
    nodeId: n.instanceId,
    name: n.name,
    role: n.role,
    status: n.status,
    version: n.version ?? "",
    ...(n.lastHeartbeatAt ? { lastHeartbeatAt: timestampFromDate(n.lastHeartbeatAt) } : {}),
    ...(n.drainedAt ? { drainedAt: timestampFromDate(n.drainedAt) } : {}),
  };
}
