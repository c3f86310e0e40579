/**
 * The K3s model over both listeners: operator calls on the HTTP listener, node calls over mTLS with
 * enrolled nodes' certificates; the database and the desired state read back.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { K3sNodeService, K3sService, NetworkService } from "@powernode/proto";
import { eq } from "drizzle-orm";
import { enrollTestNode, nodeTransport, operatorClient, startTestHub } from "../../test/harness.ts";
import { isSealed } from "../ca/key-at-rest.ts";
import { openStoredKeys } from "../ca/stored-keys.ts";
import { k3sClusterNodes, k3sClusters, networkVips, subnetAdvertisements } from "../db/schema/index.ts";
import { getDesiredState } from "../desired-state/index.ts";
import type { RunningHub } from "../hub.ts";

let hub: RunningHub & AsyncDisposable;
let k3s: ReturnType<typeof operatorClient<typeof K3sService>>;
let net: ReturnType<typeof operatorClient<typeof NetworkService>>;

async function k3sNode(name: string, network?: string) {
  const n = await enrollTestNode(hub, name);
  if (network) await net.joinNetwork({ network, nodeId: n.id });
  return { ...n, k3s: createClient(K3sNodeService, nodeTransport(hub, n)) };
}

async function refused(p: Promise<unknown>): Promise<ConnectError> {
  try {
    await p;
  } catch (e) {
    return ConnectError.from(e);
  }
  throw new Error("expected the call to be refused");
}

const kubeconfig = (addr: string) =>
  `apiVersion: v1\nclusters:\n- cluster:\n    server: https://[${addr}]:6443\n`;

beforeAll(async () => {
  hub = await startTestHub();
  k3s = operatorClient(hub, K3sService);
  net = operatorClient(hub, NetworkService);
}, 30_000);
afterAll(() => hub.stop());

describe("k3s clusters", () => {
  test("bootstrap, re-bootstrap, join, ready, stop, decommission", async () => {
    const network = (await net.createNetwork({ name: "k3s-a" })).network;
    if (!network) throw new Error("no network");
    const server = await k3sNode("k3s-a-server", "k3s-a");
    const member = (await net.listMembers({ network: "k3s-a" })).members[0];
    const b = await server.k3s.bootstrap({
      kubeconfig: kubeconfig(member?.address ?? ""),
      serverToken: "K10abc::server:s1",
      agentToken: "K10abc::node:a1",
      k3sVersion: "v1.30.4+k3s1",
    });
    const c = b.cluster;
    expect(b.created).toBe(true);
    expect(c?.flavor).toBe("k3s");
    expect(c?.status).toBe("bootstrapping");
    expect(c?.cni).toBe("flannel");
    expect(c?.nodeCount).toBe(1);
    expect(c?.name).toBe("k3s-a-server-k8s");
    const prefix = network.prefix.replace(/::\/64$/, "");
    expect(c?.apiVip).toMatch(new RegExp(`^${prefix}:dead:beef:0:[0-9a-f]{1,4}$`));
    expect(c?.apiEndpoint).toBe(`https://[${c?.apiVip}]:6443`);
    expect(c?.apiEndpoint).not.toContain(member?.address ?? "-");
    const [vip] = await hub.deps.db.select().from(networkVips);
    expect(vip?.holderMemberIds.length).toBe(1);
    expect(vip?.state).toBe("active");

    const [row] = await hub.deps.db.select().from(k3sClusters);
    expect(isSealed(row?.kubeconfig ?? "")).toBe(true);
    expect(isSealed(row?.serverToken ?? "")).toBe(true);
    // The start-up check opens every sealed column.
    await openStoredKeys(hub.deps.db, {
      dataDir: hub.deps.config.dataDir,
      envKek: hub.deps.config.security.caKek,
    });

    const again = await server.k3s.bootstrap({
      kubeconfig: `${kubeconfig(member?.address ?? "")}# refreshed\n`,
      serverToken: "K10abc::server:s2",
      agentToken: "K10abc::node:a2",
      k3sVersion: "v1.30.5+k3s1",
    });
    expect(again.created).toBe(false);
    expect(again.cluster?.id).toBe(c?.id);
    expect(again.cluster?.version).toBe("v1.30.5+k3s1");
    expect((await k3s.listClusters({})).clusters).toHaveLength(1);
    expect((await k3s.getKubeconfig({ cluster: c?.name ?? "" })).kubeconfig).toEndWith("# refreshed\n");

    const ds = await getDesiredState(hub.deps.db, server.id);
    expect(ds.k3s?.role).toBe("server");
    expect(ds.k3s?.clusterInit).toBe(true);
    expect(ds.k3s?.tlsSans).toEqual([c?.apiVip ?? ""]);
    expect(ds.k3s?.nodeIp).toBe(member?.address ?? "");

    const worker = await k3sNode("k3s-a-worker", "k3s-a");
    const join = await worker.k3s.joinRequest({});
    expect(join).toMatchObject({ clusterId: c?.id, apiEndpoint: c?.apiEndpoint, token: "K10abc::node:a2" });
    const reg = await worker.k3s.registerNode({ role: "agent", k3sVersion: "v1.30.5+k3s1" });
    expect(reg.node?.status).toBe("joining");
    expect(reg.nodeCount).toBe(2);
    expect((await worker.k3s.markReady({ k3sVersion: "v1.30.5+k3s1" })).node?.status).toBe("active");
    expect((await server.k3s.markReady({ k3sVersion: "v1.30.5+k3s1" })).clusterStatus).toBe("active");
    const nodes = (await k3s.listClusterNodes({ cluster: c?.id ?? "" })).nodes;
    expect(nodes.map((n) => n.role)).toEqual(["server", "agent"]);
    expect((await getDesiredState(hub.deps.db, worker.id)).k3s?.serverUrl).toBe(c?.apiEndpoint ?? "");
    expect((await worker.k3s.markStopped({ reason: "test" })).node?.status).toBe("disconnected");

    const d = await k3s.decommissionCluster({ cluster: c?.name ?? "" });
    expect(d.freedNodeCount).toBe(2);
    expect(await hub.deps.db.select().from(k3sClusters)).toEqual([]);
    expect(await hub.deps.db.select().from(k3sClusterNodes)).toEqual([]);
    expect(await hub.deps.db.select().from(networkVips)).toEqual([]);
    expect((await getDesiredState(hub.deps.db, server.id)).k3s?.enabled).toBe(false);
  });

  test("errors: no SDWAN peer, no cluster to join, bad fields", async () => {
    const lone = await k3sNode("k3s-lone");
    const e1 = await refused(lone.k3s.bootstrap({ kubeconfig: "x", serverToken: "K10x", k3sVersion: "v1" }));
    expect(e1.code).toBe(Code.FailedPrecondition);
    expect(e1.rawMessage).toContain("SDWAN");
    const e2 = await refused(lone.k3s.joinRequest({}));
    expect(e2.code).toBe(Code.FailedPrecondition);
    expect(e2.rawMessage).toContain("no Kubernetes cluster");
    const e3 = await refused(k3s.createCluster({ nodeId: lone.id, cni: "calico" }));
    expect(e3.code).toBe(Code.InvalidArgument);
    expect(e3.rawMessage).toStartWith("cni: ");
    const e4 = await refused(lone.k3s.bootstrap({ kubeconfig: "", serverToken: "K10x" }));
    expect(e4.rawMessage).toStartWith("kubeconfig: required");
    const e5 = await refused(k3s.getCluster({ cluster: "nope" }));
    expect(e5.code).toBe(Code.NotFound);
    const e6 = await refused(k3s.setPodSubnetPrefix({ network: "k3s-a", prefix: "10.42.1.0/16" }));
    expect(e6.rawMessage).toStartWith("prefix: ");
  });

  test("CNI: default flannel, ovn flags, profile lookup, CniProfileMismatch", async () => {
    await net.createNetwork({ name: "k3s-cni" });
    const heavy = await k3sNode("k3s-heavy", "k3s-cni");
    const light = await k3sNode("k3s-light", "k3s-cni");
    await k3s.setNetworkProfile({ nodeId: heavy.id, profile: "heavyweight" });
    await k3s.setNetworkProfile({ nodeId: light.id, profile: "lightweight" });
    const ovn = (await k3s.createCluster({ nodeId: heavy.id, name: "ovn", cni: "ovn_kubernetes" })).cluster;
    expect(ovn?.cni).toBe("ovn_kubernetes");
    expect(ovn?.status).toBe("pending");
    expect((await getDesiredState(hub.deps.db, heavy.id)).k3s?.cniFlags).toEqual([
      "--flannel-backend=none",
      "--disable-network-policy",
    ]);
    expect(await k3s.getNodeCni({ nodeId: heavy.id })).toMatchObject({
      cni: "ovn_kubernetes",
      source: "cluster ovn",
    });
    expect(await k3s.getNodeCni({ nodeId: light.id })).toMatchObject({ cni: "flannel", source: "default" });
    const mismatch = await refused(k3s.addNode({ cluster: "ovn", nodeId: light.id }));
    expect(mismatch.code).toBe(Code.FailedPrecondition);
    expect(mismatch.rawMessage).toStartWith("CniProfileMismatch: ");
    const m2 = await refused(light.k3s.registerNode({ clusterId: ovn?.id ?? "", role: "agent" }));
    expect(m2.rawMessage).toStartWith("CniProfileMismatch: ");
    await k3s.decommissionCluster({ cluster: "ovn" });
    const flannel = (await k3s.createCluster({ nodeId: light.id, name: "flannel" })).cluster;
    expect(flannel?.cni).toBe("flannel");
    await k3s.decommissionCluster({ cluster: "flannel" });
  });

  test("flannel over SDWAN: the pod subnet prefix becomes the pod CIDR; ovn leaves it blank", async () => {
    const network = (await net.createNetwork({ name: "k3s-pods" })).network;
    expect((await k3s.setPodSubnetPrefix({ network: "k3s-pods", prefix: "10.42.0.0/16" })).prefix).toBe(
      "10.42.0.0/16",
    );
    const srv = await k3sNode("k3s-pods-server", "k3s-pods");
    const c = (await k3s.createCluster({ nodeId: srv.id, cni: "flannel" })).cluster;
    expect(c?.podCidr).toBe("10.42.0.0/16");
    const [row] = await hub.deps.db
      .select()
      .from(k3sClusters)
      .where(eq(k3sClusters.id, c?.id ?? ""));
    expect(row?.metadata.sdwanNetworkId).toBe(network?.id);
    const [adv] = await hub.deps.db.select().from(subnetAdvertisements);
    expect(adv).toMatchObject({ source: "pod_subnet", prefix: "10.42.0.0/16", active: true });
    const s = (await getDesiredState(hub.deps.db, srv.id)).k3s;
    expect([s?.flannelIface, s?.flannelBackend, s?.clusterCidr]).toEqual([
      `wg-sdwan-${network?.handle}`,
      "host-gw",
      "10.42.0.0/16",
    ]);
    await k3s.decommissionCluster({ cluster: c?.id ?? "" });
    expect(await hub.deps.db.select().from(subnetAdvertisements)).toEqual([]);

    const heavy = await k3sNode("k3s-pods-heavy", "k3s-pods");
    await k3s.setNetworkProfile({ nodeId: heavy.id, profile: "heavyweight" });
    const ovn = (await k3s.createCluster({ nodeId: heavy.id, cni: "ovn_kubernetes" })).cluster;
    expect(ovn?.podCidr).toBe("");
    const events = await hub.deps.db.query.fleetEvents.findMany({
      where: (e, { eq }) => eq(e.kind, "system.cluster_bootstrap.pod_subnet_prefix_ignored"),
    });
    expect(events.map((e) => e.severity)).toEqual(["warn"]);
    await k3s.decommissionCluster({ cluster: ovn?.id ?? "" });
  });
});
