/** K3sService (operator): clusters, their nodes and kubeconfig, and what K3s reads from nodes and networks. */
import type { ServiceImpl } from "@connectrpc/connect";
import type { K3sService } from "@powernode/proto";
import { asc } from "drizzle-orm";
import { k3sClusters } from "../db/schema/index.ts";
import type { Deps } from "../deps.ts";
import { resolveNetwork } from "../network/networks.ts";
import { nameField, textField, uuidField } from "../rpc/fields.ts";
import { addNode, drainNode, parseRole } from "./cluster-nodes.ts";
import { createCluster, decommissionCluster } from "./clusters.ts";
import { parseCni, parseNetworkProfile } from "./cni.ts";
import { openSecret } from "./secrets.ts";
import { nodeCni, setNetworkProfile, setPodSubnetPrefix } from "./settings.ts";
import { clusterNodes, resolveCluster } from "./store.ts";
import { toProtoCluster, toProtoNode } from "./to-proto.ts";

export function createK3sService(deps: Deps): ServiceImpl<typeof K3sService> {
  const cluster = (v: string) => textField("cluster", v, { required: true, max: 128 });
  const network = (v: string) => textField("network", v, { required: true, max: 128 });
  return {
    async createCluster(req) {
      const nodeId = uuidField("node_id", req.nodeId);
      const name = req.name === "" ? undefined : nameField("name", req.name, "cluster name");
      const cni = parseCni("cni", req.cni);
      const networkId =
        req.network === "" ? undefined : (await resolveNetwork(deps.db, network(req.network))).id;
      const c = await createCluster(deps, {
        nodeId,
        ...(name ? { name } : {}),
        ...(cni ? { cni } : {}),
        ...(networkId ? { networkId } : {}),
      });
      return { cluster: toProtoCluster(c) };
    },
    async addNode(req) {
      const row = await addNode(deps, {
        cluster: cluster(req.cluster),
        nodeId: uuidField("node_id", req.nodeId),
        role: parseRole("role", req.role),
      });
      return { node: toProtoNode(row) };
    },
    async listClusters() {
      const rows = await deps.db.select().from(k3sClusters).orderBy(asc(k3sClusters.name));
      return { clusters: rows.map(toProtoCluster) };
    },
    async getCluster(req) {
      return { cluster: toProtoCluster(await resolveCluster(deps.db, cluster(req.cluster))) };
    },
    async listClusterNodes(req) {
      const c = await resolveCluster(deps.db, cluster(req.cluster));
      return { nodes: (await clusterNodes(deps.db, c.id)).map(toProtoNode) };
    },
    async getKubeconfig(req) {
      const c = await resolveCluster(deps.db, cluster(req.cluster));
      if (c.kubeconfig === null) return { kubeconfig: "", apiEndpoint: c.apiEndpoint };
      return {
        kubeconfig: openSecret(deps.keys, c.id, "kubeconfig", c.kubeconfig),
        apiEndpoint: c.apiEndpoint,
      };
    },
    async decommissionCluster(req) {
      return decommissionCluster(deps, cluster(req.cluster));
    },
    async setNetworkProfile(req) {
      const profile = parseNetworkProfile("profile", req.profile);
      return { profile: (await setNetworkProfile(deps, uuidField("node_id", req.nodeId), profile)) ?? "" };
    },
    async setPodSubnetPrefix(req) {
      const prefix = textField("prefix", req.prefix, { max: 64 });
      return { prefix: await setPodSubnetPrefix(deps, network(req.network), prefix) };
    },
    async getNodeCni(req) {
      return nodeCni(deps, uuidField("node_id", req.nodeId));
    },
    async drainNode(req) {
      const r = await drainNode(deps, {
        cluster: cluster(req.cluster),
        nodeId: uuidField("node_id", req.nodeId),
        reason: textField("reason", req.reason, { max: 1024 }),
      });
      return { node: toProtoNode(r.row), clusterStatus: r.clusterStatus };
    },
  };
}
