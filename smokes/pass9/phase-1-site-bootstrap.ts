/**
 * Phase 1, site bootstrap (predecessor seed 21, `smoke_test_k3s_site_bootstrap.rb`): the site's network
 * `k3s-site-<x>` with its pod subnet prefix (created, or verified: another prefix fails), a bootstrap
 * server enrolled over mTLS with its SDWAN peer, its Bootstrap report (db tier: a synthetic kubeconfig
 * at the peer /128 and K10smoke tokens) and MarkReady; the cluster, its API VIP and its pod subnet
 * advertisement as the hub records them. A later run of this phase alone re-bootstraps the same node.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { expectEqual } from "../pass2/k3s-env.ts";
import { apiVipOf, memberIdOf, podAdvertisementOf, podPrefixOf } from "./hub-reads.ts";
import { liveChecks } from "./live.ts";
import type { SiteCtx } from "./site.ts";

const K3S_VERSION = "v1.30.4+k3s1";
const kubeconfigFor = (addr: string) =>
  `apiVersion: v1\nclusters:\n- cluster:\n    server: https://[${addr}]:6443\n  name: default\n`;

export async function siteBootstrap(site: SiteCtx): Promise<void> {
  const { t, s, env, x, podPrefix, networkName } = site;
  const network = await t.step(`network ${networkName} with pod prefix ${podPrefix}`, async () => {
    const existing = await s.network.getNetwork({ network: networkName }).catch((e: unknown) => {
      if (ConnectError.from(e).code === Code.NotFound) return undefined;
      throw e;
    });
    const n = existing?.network ?? (await s.network.createNetwork({ name: networkName })).network;
    if (!n) throw new Error("CreateNetwork returned no network");
    const had = existing ? await podPrefixOf(s, networkName) : "";
    if (had !== "" && had !== podPrefix)
      throw new Error(
        `network ${networkName} exists with pod prefix ${had}, not ${podPrefix} (SMOKE_K3S_POD_PREFIX_${x.toUpperCase()}): start over with --fresh`,
      );
    if (had === "") await env.k3s.setPodSubnetPrefix({ network: networkName, prefix: podPrefix });
    t.info(`${networkName}: ${existing ? "verified" : "created"}, ${n.prefix}, handle ${n.handle}`);
    return n;
  });

  const recorded = site.get("instance_id");
  const server = await t.step(
    `bootstrap node k3s-${x}-bootstrap, its SDWAN peer with an address`,
    async () => {
      const n =
        (recorded ? site.restore(recorded) : undefined) ??
        (await site.enroll(`k3s-${x}-bootstrap`, networkName));
      if (!n.address) throw new Error(`node ${n.name}: no overlay address in ${networkName}`);
      return n;
    },
  );
  const peerId = await memberIdOf(s, server.id, network.id);
  const boot = await t.step(
    `Bootstrap (kubeconfig at https://[${server.address}]:6443, K10smoke tokens) and MarkReady`,
    async () => {
      const b = await server.k3s.bootstrap({
        kubeconfig: kubeconfigFor(server.address),
        serverToken: `K10smoke::server:site-${x}`,
        agentToken: `K10smoke::node:site-${x}`,
        k3sVersion: K3S_VERSION,
        cni: "flannel",
      });
      await server.k3s.markReady({ k3sVersion: K3S_VERSION });
      if (!b.cluster) throw new Error("Bootstrap returned no cluster");
      return b;
    },
  );
  const id = boot.cluster?.id ?? "";
  const cluster = await t.step("GetCluster", async () => {
    const c = (await env.k3s.getCluster({ cluster: id })).cluster;
    if (!c) throw new Error(`GetCluster ${id}: no cluster`);
    return c;
  });
  await t.check(`cluster ${boot.created ? "created" : "re-bootstrapped (the same cluster)"}`, () => {
    if (recorded === undefined && !boot.created)
      throw new Error("a new node's Bootstrap did not create a cluster");
    const known = site.get("cluster_id");
    if (recorded !== undefined && (boot.created || (known !== undefined && known !== id)))
      throw new Error(`a re-bootstrap made another cluster (${id}, the sidecar's is ${known})`);
    return `${cluster.name} ${cluster.id.slice(0, 8)}`;
  });
  await t.check("cluster: status active, flavor k3s, cni flannel", () =>
    expectEqual(
      "status, flavor, cni",
      [cluster.status, cluster.flavor, cluster.cni],
      ["active", "k3s", "flannel"],
    ),
  );
  await t.check(`cluster: pod_cidr ${podPrefix} (the network's prefix)`, () =>
    expectEqual("pod_cidr", cluster.podCidr, podPrefix),
  );
  await t.check(`cluster: network ${networkName}`, () => {
    expectEqual("network_id", cluster.networkId, network.id);
    return network.id.slice(0, 8);
  });
  const vip = await apiVipOf(s, cluster.id);
  await t.check("cluster: API VIP present", () => {
    expectEqual("api_vip", cluster.apiVip, vip.address);
    expectEqual("api_endpoint", cluster.apiEndpoint, `https://[${vip.address}]:6443`);
    return `${vip.address} (${vip.id.slice(0, 8)})`;
  });
  await t.check("cluster: a bootstrap event of phase bootstrap", () => {
    const e = cluster.bootstrapEvents.filter((b) => b.phase === "bootstrap");
    if (e.length === 0)
      throw new Error(`phases ${cluster.bootstrapEvents.map((b) => b.phase).join(", ") || "none"}`);
    return `${e.length} of ${cluster.bootstrapEvents.length}: "${e[0]?.message}"`;
  });
  await t.check("VIP active, the bootstrap peer its primary holder", () => {
    expectEqual("state", vip.state, "active");
    expectEqual("primary holder", vip.holders[0], peerId);
    return `member ${peerId.slice(0, 8)}, ${vip.holders.length} holder(s)`;
  });
  await t.check("the bootstrap server's k3s section names the VIP among its TLS names", async () => {
    const sec = await server.section();
    expectEqual(
      "role, cluster_init, tls_sans",
      [sec?.role, sec?.clusterInit, sec?.tlsSans],
      ["server", true, [vip.address]],
    );
    return `node_ip ${sec?.nodeIp}`;
  });
  await t.check("pod subnet advertisement: the prefix, from the bootstrap peer, active", async () => {
    const a = await podAdvertisementOf(s, cluster.id);
    return expectEqual(
      "source, prefix, member, active",
      [a.source, a.prefix, a.memberId, a.active],
      ["pod_subnet", podPrefix, peerId, true],
    );
  });
  site.put({
    network_id: network.id,
    network_name: networkName,
    pod_cidr: cluster.podCidr,
    cluster_id: cluster.id,
    cluster_name: cluster.name,
    api_vip_id: vip.id,
    api_vip: vip.address,
    instance_id: server.id,
    peer_id: peerId,
  });
  await liveChecks(t, "single", [
    "a bootstrap server VM boots from the k3s-server module and its cluster becomes active (600 s)",
  ]);
}
