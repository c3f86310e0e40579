/**
 * The k3s feature: K3s clusters in overlay networks. K3sService for operators, K3sNodeService for the
 * nodes' k3s controllers (bootstrap, join, readiness), and the desired state's `k3s` section. A deleted
 * instance leaves its cluster (deleted-nodes.ts: DeleteInstance's hook, and a sweep at start).
 */
import { K3sNodeService, K3sService } from "@powernode/proto";
import { bindService, type Feature } from "../feature.ts";
import { forgetDeletedNodes, forgetDeletedNodesJob } from "./deleted-nodes.ts";
import { createK3sNodeService } from "./k3s-node-service.ts";
import { createK3sService } from "./k3s-service.ts";
import { k3sSection } from "./section.ts";

export const k3sFeature: Feature = {
  name: "k3s",
  services: [
    bindService({
      service: K3sService,
      principals: {
        createCluster: "operator",
        addNode: "operator",
        listClusters: "operator",
        getCluster: "operator",
        listClusterNodes: "operator",
        getKubeconfig: "operator",
        decommissionCluster: "operator",
        setNetworkProfile: "operator",
        setPodSubnetPrefix: "operator",
        getNodeCni: "operator",
        drainNode: "operator",
      },
      create: createK3sService,
    }),
    bindService({
      service: K3sNodeService,
      principals: {
        bootstrap: "node",
        joinRequest: "node",
        registerNode: "node",
        markReady: "node",
        markStopped: "node",
      },
      create: createK3sNodeService,
    }),
  ],
  sections: [k3sSection],
  async instanceDeleted(deps, nodeId) {
    await forgetDeletedNodes(deps, nodeId);
  },
  jobs: [forgetDeletedNodesJob],
};
