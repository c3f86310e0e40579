/**
 * Pass 2, db tier, the CNI of K3s clusters (predecessor seed 5, `smoke_test_ovn_k8s_cni.rb`) and flannel
 * over SDWAN (the db part of seed 20, `smoke_test_flannel_over_sdwan.rb`): defaults, the ovn_kubernetes
 * flags in what the node is sent, the profile-based lookup and its refusal, the network's pod subnet
 * prefix as the cluster's pod CIDR with a pod_subnet advertisement, and what the server's k3s is told.
 */
import { Code } from "@connectrpc/connect";
import { Severity } from "@powernode/proto";
import { eq } from "drizzle-orm";
import { k3sClusters, subnetAdvertisements } from "../../hub/src/db/schema/index.ts";
import { k3sInstallFlags } from "../../hub/src/k3s/index.ts";
import type { PassContext } from "../lib/pass.ts";
import { expectEqual, type K3sSmokeEnv, refusal } from "./k3s-env.ts";

const OVN_FLAGS = ["--flannel-backend=none", "--disable-network-policy"];

/** Seed 5. */
export async function k3sCniChecks(t: PassContext, env: K3sSmokeEnv): Promise<void> {
  const { k3s, net, stamp } = env;
  const netName = `smoke-cni-${stamp}`;
  await t.step(`network ${netName}`, () => net.createNetwork({ name: netName }));
  const heavy = await env.node("smoke-cni-heavy", netName);
  const light = await env.node("smoke-cni-light", netName);
  const plain = await env.node("smoke-cni-plain", netName);
  await t.step("network profiles: heavy heavyweight, light lightweight", async () => {
    await k3s.setNetworkProfile({ nodeId: heavy.id, profile: "heavyweight" });
    await k3s.setNetworkProfile({ nodeId: light.id, profile: "lightweight" });
  });

  await t.check("a cluster created without a CNI uses flannel", async () => {
    const c = (await k3s.createCluster({ nodeId: plain.id, name: `smoke-cni-default-${stamp}` })).cluster;
    const cni = expectEqual("cni", c?.cni, "flannel");
    await k3s.decommissionCluster({ cluster: c?.id ?? "" });
    return cni;
  });
  const ovn = await t.step("an explicit ovn_kubernetes cluster around the heavyweight node", async () => {
    const c = (
      await k3s.createCluster({ nodeId: heavy.id, name: `smoke-cni-ovn-${stamp}`, cni: "ovn_kubernetes" })
    ).cluster;
    if (!c) throw new Error("CreateCluster returned no cluster");
    return c;
  });
  await t.check("explicit ovn_kubernetes accepted", () => expectEqual("cni", ovn.cni, "ovn_kubernetes"));
  await t.check("calico refused (invalid_argument naming cni)", async () => {
    const e = await refusal(k3s.createCluster({ nodeId: light.id, cni: "calico" }));
    if (e.code !== Code.InvalidArgument || !e.rawMessage.startsWith("cni: ")) throw new Error(e.message);
    return e.rawMessage;
  });
  await t.check("install flags: none for flannel", () =>
    expectEqual("flags", k3sInstallFlags("flannel"), []),
  );
  await t.check(
    "install flags: exactly --flannel-backend=none --disable-network-policy for ovn_kubernetes",
    async () => {
      expectEqual("flags", k3sInstallFlags("ovn_kubernetes"), OVN_FLAGS);
      // ... and they are what the server's k3s is sent.
      return expectEqual("section cni_flags", (await heavy.section())?.cniFlags, OVN_FLAGS);
    },
  );
  await t.check("lookup: the heavyweight server of the ovn cluster runs ovn_kubernetes", async () => {
    const r = await k3s.getNodeCni({ nodeId: heavy.id });
    expectEqual("cni", r.cni, "ovn_kubernetes");
    return r.source;
  });
  await t.check("lookup: the unattached lightweight node gets the default flannel", async () => {
    const r = await k3s.getNodeCni({ nodeId: light.id });
    expectEqual("cni", r.cni, "flannel");
    return r.source;
  });
  await t.check(
    "a lightweight node joining the ovn_kubernetes cluster: CniProfileMismatch (failed_precondition)",
    async () => {
      const e = await refusal(light.k3s.registerNode({ clusterId: ovn.id, role: "agent" }));
      if (e.code !== Code.FailedPrecondition || !e.rawMessage.startsWith("CniProfileMismatch"))
        throw new Error(e.message);
      return e.rawMessage;
    },
  );
  await k3s.decommissionCluster({ cluster: ovn.id });
}

/** Seed 20, db part. */
export async function podSubnetChecks(t: PassContext, env: K3sSmokeEnv): Promise<void> {
  const { k3s, net, stamp } = env;
  const { db } = env.s.hub.deps;
  const netName = `smoke-flannel-${stamp}`;
  const network = await t.step(`network ${netName}`, async () => {
    const n = (await net.createNetwork({ name: netName })).network;
    if (!n) throw new Error("CreateNetwork returned no network");
    return n;
  });
  await t.check("pod_subnet_prefix 10.42.0.0/16 set on the network", async () => {
    const r = await k3s.setPodSubnetPrefix({ network: netName, prefix: "10.42.0.0/16" });
    return expectEqual("prefix", r.prefix, "10.42.0.0/16");
  });
  const server = await env.node("smoke-flannel-server", netName);
  const c = await t.step("Bootstrap with cni flannel", async () => {
    const b = await server.k3s.bootstrap({
      kubeconfig: "apiVersion: v1\n",
      serverToken: "K10smoke::server:flannel",
      k3sVersion: "v1.30.4+k3s1",
      cni: "flannel",
    });
    if (!b.cluster) throw new Error("Bootstrap returned no cluster");
    return b.cluster;
  });
  await t.check("cluster: cni flannel, pod_cidr 10.42.0.0/16, its SDWAN network recorded", async () => {
    const [row] = await db.select().from(k3sClusters).where(eq(k3sClusters.id, c.id));
    expectEqual(
      "cluster",
      [c.cni, c.podCidr, row?.metadata.sdwanNetworkId],
      ["flannel", "10.42.0.0/16", network.id],
    );
    return `pod_cidr ${c.podCidr}`;
  });
  await t.check("a pod_subnet advertisement of the prefix from the bootstrap peer, active", async () => {
    const member = await db.query.networkMembers.findFirst({
      where: (m, { and, eq }) => and(eq(m.networkId, network.id), eq(m.instanceId, server.id)),
    });
    const ads = await db
      .select()
      .from(subnetAdvertisements)
      .where(eq(subnetAdvertisements.networkId, network.id));
    expectEqual(
      "advertisements",
      ads.map((a) => [a.source, a.prefix, a.memberId, a.active]),
      [["pod_subnet", "10.42.0.0/16", member?.id, true]],
    );
    return `member ${member?.id.slice(0, 8)}`;
  });
  await t.check(
    "the server's k3s config: flannel over wg-sdwan-<handle>, host-gw, cluster-cidr",
    async () => {
      const s = await server.section();
      return expectEqual(
        "flannel_iface, flannel_backend, cluster_cidr",
        [s?.cni, s?.flannelIface, s?.flannelBackend, s?.clusterCidr],
        ["flannel", `wg-sdwan-${network.handle}`, "host-gw", "10.42.0.0/16"],
      );
    },
  );
  await k3s.decommissionCluster({ cluster: c.id });
  await t.check("ovn_kubernetes in the same network: pod_cidr blank and a warning event", async () => {
    const heavy = await env.node("smoke-flannel-heavy", netName);
    await k3s.setNetworkProfile({ nodeId: heavy.id, profile: "heavyweight" });
    const b = await heavy.k3s.bootstrap({
      kubeconfig: "apiVersion: v1\n",
      serverToken: "K10smoke::server:ovn",
      k3sVersion: "v1.30.4+k3s1",
      cni: "ovn_kubernetes",
    });
    expectEqual("pod_cidr", b.cluster?.podCidr, "");
    const events = (
      await env.s.fleet.listEvents({ kindPrefix: "system.cluster_bootstrap.pod_subnet_prefix_ignored" })
    ).events;
    const mine = events.filter((e) => e.nodeId === heavy.id);
    if (mine.length !== 1 || mine[0]?.severity !== Severity.WARN)
      throw new Error(
        `pod_subnet_prefix_ignored events for the node: ${JSON.stringify(mine.map((e) => e.severity))}`,
      );
    await k3s.decommissionCluster({ cluster: b.cluster?.id ?? "" });
    return `${mine[0]?.kind} (warn)`;
  });
  await k3s.setPodSubnetPrefix({ network: netName, prefix: "" });
}
