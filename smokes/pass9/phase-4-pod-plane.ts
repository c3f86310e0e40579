/**
 * Phase 4, pod plane (predecessor seed 24, `smoke_test_k3s_pod_plane.rb`), the db contract: what the
 * bootstrap server's k3s is told (its k3s section, read from its own WatchDesiredState: flannel over
 * `wg-sdwan-<handle>`, host-gw, cluster_cidr the pod CIDR), the pod subnet advertisement still active,
 * the cluster's pod CIDR and network unchanged, five nodes. The live half (a 2-replica nginx with
 * anti-affinity, pods on different nodes, pod-to-pod packets on the mesh interface) is site+.
 */
import { expectEqual } from "../pass2/k3s-env.ts";
import { podAdvertisementOf } from "./hub-reads.ts";
import { liveChecks } from "./live.ts";
import { NODES, restoreOrFail, type SiteCtx } from "./site.ts";

const PHASE = 4;

export async function podPlane(site: SiteCtx): Promise<void> {
  const { t, s, env } = site;
  const clusterId = site.need("cluster_id", PHASE);
  const networkId = site.need("network_id", PHASE);
  const podCidr = site.need("pod_cidr", PHASE);
  const peerId = site.need("peer_id", PHASE);
  site.need("agent_instance_ids", PHASE);
  const server = restoreOrFail(site, site.need("instance_id", PHASE), "bootstrap node", 1);
  const network = (await s.network.getNetwork({ network: networkId })).network;

  await t.check(
    `the server's k3s section: flannel over wg-sdwan-${network?.handle}, host-gw, cluster_cidr ${podCidr}`,
    async () => {
      const sec = await server.section();
      return expectEqual(
        "cni, flannel_iface, flannel_backend, cluster_cidr",
        [sec?.cni, sec?.flannelIface, sec?.flannelBackend, sec?.clusterCidr],
        ["flannel", `wg-sdwan-${network?.handle}`, "host-gw", podCidr],
      );
    },
  );
  await t.check(`pod subnet advertisement ${podCidr} active, from the bootstrap peer`, async () => {
    const a = await podAdvertisementOf(s, clusterId);
    return expectEqual("prefix, member, active", [a.prefix, a.memberId, a.active], [podCidr, peerId, true]);
  });
  const c = (await env.k3s.getCluster({ cluster: clusterId })).cluster;
  await t.check("cluster pod_cidr and network unchanged", () => {
    expectEqual("pod_cidr, network_id", [c?.podCidr, c?.networkId], [podCidr, networkId]);
    return `${podCidr} in ${network?.name}`;
  });
  await t.check(`node_count ${NODES}`, () => expectEqual("node_count", c?.nodeCount, NODES));
  await liveChecks(t, "site", [
    "kubectl: a 2-replica nginx:alpine Deployment with hostname anti-affinity, 2 pods Ready (180 s)",
    "the 2 pods on different nodes",
    `pod A -> pod B: packets on wg-sdwan-${network?.handle} between the pod IPs (tcpdump)`,
  ]);
}
