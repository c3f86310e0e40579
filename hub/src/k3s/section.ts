/** The desired state's `k3s` section: the K3s server or agent a node runs, from its cluster node row. */
import { defineSection } from "../desired-state/index.ts";
import { membershipsOf } from "../network/networks.ts";
import { getVip } from "../network/vips.ts";
import { k3sSectionFor } from "./section-config.ts";
import { clusterNodeOf } from "./store.ts";

export const k3sSection = defineSection({
  section: "k3s",
  async compile(tx, node) {
    const own = await clusterNodeOf(tx, node.id);
    if (!own) return {};
    const { cluster, node: row } = own;
    const peer = (await membershipsOf(tx, node.id)).find((m) => m.network.id === cluster.networkId);
    // A node that left the cluster's network has no overlay address to run k3s on: nothing to run.
    if (!peer) return {};
    const vip = cluster.apiVipId ? await getVip(tx, cluster.apiVipId) : undefined;
    return k3sSectionFor({
      cluster: { ...cluster, bootstrapNodeId: cluster.metadata.bootstrapNodeId },
      node: row,
      network: peer.network,
      address: peer.member.address,
      vip: vip?.address,
    });
  },
});
