/** K3sNodeService (node, mTLS): the calling node's half of its K3s cluster. */
import type { ServiceImpl } from "@connectrpc/connect";
import type { K3sNodeService } from "@powernode/proto";
import type { Deps } from "../deps.ts";
import { requireNode } from "../rpc/context.ts";
import { optionalUuidField, textField } from "../rpc/fields.ts";
import { joinRequest, markReady, markStopped, parseRole, registerNode } from "./cluster-nodes.ts";
import { bootstrapCluster } from "./clusters.ts";
import { parseCni } from "./cni.ts";
import { toProtoCluster, toProtoNode } from "./to-proto.ts";

/** Longest kubeconfig accepted (a k3s one is about 3 KiB). */
const KUBECONFIG_MAX = 65_536;

export function createK3sNodeService(deps: Deps): ServiceImpl<typeof K3sNodeService> {
  const version = (v: string) => textField("k3s_version", v, { max: 128 });
  const clusterId = (v: string) => optionalUuidField("cluster_id", v);
  return {
    async bootstrap(req, ctx) {
      const node = requireNode(ctx);
      const cni = parseCni("cni", req.cni);
      const { cluster, created } = await bootstrapCluster(deps, node.instanceId, {
        kubeconfig: textField("kubeconfig", req.kubeconfig, { required: true, max: KUBECONFIG_MAX }),
        serverToken: textField("server_token", req.serverToken, { required: true, max: 4096 }),
        agentToken: textField("agent_token", req.agentToken, { max: 4096 }),
        version: version(req.k3sVersion),
        ...(cni ? { cni } : {}),
      });
      return { cluster: toProtoCluster(cluster), created };
    },
    async joinRequest(req, ctx) {
      const node = requireNode(ctx);
      const id = clusterId(req.clusterId);
      const r = await joinRequest(deps, node.instanceId, {
        ...(id ? { clusterId: id } : {}),
        role: parseRole("role", req.role),
      });
      return { ...r, caPem: "" };
    },
    async registerNode(req, ctx) {
      const node = requireNode(ctx);
      const id = clusterId(req.clusterId);
      const r = await registerNode(deps, node.instanceId, {
        ...(id ? { clusterId: id } : {}),
        role: parseRole("role", req.role),
        version: version(req.k3sVersion),
      });
      return { node: toProtoNode(r.row), nodeCount: r.nodeCount };
    },
    async markReady(req, ctx) {
      const r = await markReady(deps, requireNode(ctx).instanceId, { version: version(req.k3sVersion) });
      return { node: toProtoNode(r.row), clusterStatus: r.clusterStatus };
    },
    async markStopped(req, ctx) {
      const row = await markStopped(deps, requireNode(ctx).instanceId, {
        reason: textField("reason", req.reason, { max: 1024 }),
      });
      return { node: toProtoNode(row) };
    },
  };
}
