/**
 * Pass 2, db tier, the K3s cluster model: predecessor seeds 4 (`smoke_test_k3s_runtime.rb`) and 5
 * (`smoke_test_ovn_k8s_cni.rb`) and the db part of seed 20 (`smoke_test_flannel_over_sdwan.rb`). A real
 * hub of its own; nodes (provider none) enrolled over mTLS and joined to networks; the node's half
 * (K3sNodeService) called as the k3s controller calls it, with each node's own certificate; the
 * operator API for the rest; the database read only to show what is stored and how (sealed). One `ok`
 * line per check.
 */
import { Code } from "@connectrpc/connect";
import { eq } from "drizzle-orm";
import { isSealed } from "../../hub/src/ca/key-at-rest.ts";
import { k3sSecretContext } from "../../hub/src/ca/stored-keys.ts";
import { k3sClusterNodes, k3sClusters, networkVips } from "../../hub/src/db/schema/index.ts";
import { startSmokeHub } from "../lib/hub.ts";
import type { PassContext } from "../lib/pass.ts";
import { k3sCniChecks, podSubnetChecks } from "./k3s-cni-db.ts";
import { expectEqual, type K3sSmokeEnv, k3sSmokeEnv, refusal } from "./k3s-env.ts";

const V1 = "v1.30.4+k3s1";
const V2 = "v1.30.5+k3s1";
const kubeconfigFor = (addr: string, note: string) =>
  `apiVersion: v1\nclusters:\n- cluster:\n    server: https://[${addr}]:6443\n  name: default\n# ${note}\n`;

export async function k3sDbChecks(t: PassContext): Promise<void> {
  const s = await t.step("start a hub for the K3s checks", () => startSmokeHub(t));
  const env = k3sSmokeEnv(s);
  await k3sRuntimeChecks(t, env);
  await k3sCniChecks(t, env);
  await podSubnetChecks(t, env);
}

/** Seed 4: bootstrap, VIP, re-bootstrap, join, register/ready/stopped, operator reads, decommission. */
async function k3sRuntimeChecks(t: PassContext, env: K3sSmokeEnv): Promise<void> {
  const { k3s, net, stamp } = env;
  const { db, keys } = env.s.hub.deps;
  const netName = `smoke-k3s-${stamp}`;
  const network = await t.step(`network ${netName}`, async () => {
    const n = (await net.createNetwork({ name: netName })).network;
    if (!n) throw new Error("CreateNetwork returned no network");
    return n;
  });
  const server = await t.step("node smoke-k3s-server enrolled, its SDWAN peer in the network", () =>
    env.node("smoke-k3s-server", netName),
  );
  const boot = await t.step("Bootstrap (kubeconfig at the peer /128, K10smoke tokens, v1.30.4+k3s1)", () =>
    server.k3s.bootstrap({
      kubeconfig: kubeconfigFor(server.address, "first"),
      serverToken: "K10smoke::server:first",
      agentToken: "K10smoke::node:first",
      k3sVersion: V1,
    }),
  );
  const c = boot.cluster;
  if (!c) throw new Error("Bootstrap returned no cluster");
  const row = async () => (await db.select().from(k3sClusters).where(eq(k3sClusters.id, c.id)))[0];
  const open = (value: string | null | undefined, column: "kubeconfig" | "server-token" | "agent-token") =>
    keys.open(value ?? "", k3sSecretContext(c.id, column));

  await t.check("cluster persisted (a new row)", async () => {
    if (!boot.created || !(await row())) throw new Error(`created ${boot.created}`);
    return `${c.name} ${c.id.slice(0, 8)}`;
  });
  await t.check("flavor k3s", () => expectEqual("flavor", c.flavor, "k3s"));
  await t.check("status bootstrapping", () => expectEqual("status", c.status, "bootstrapping"));
  await t.check("version recorded", () => expectEqual("version", c.version, V1));
  await t.check("api_endpoint starts with https://[", () => {
    if (!c.apiEndpoint.startsWith("https://[")) throw new Error(c.apiEndpoint);
    return c.apiEndpoint;
  });
  const vip = (await row())?.apiVipId;
  const vipRow = async () =>
    (
      await db
        .select()
        .from(networkVips)
        .where(eq(networkVips.id, vip ?? ""))
    )[0];
  await t.check("the cluster names its API VIP and the VIP row exists", async () => {
    const v = await vipRow();
    if (!vip || !v) throw new Error(`api_vip_id ${vip}`);
    return `${v.name} ${vip.slice(0, 8)}`;
  });
  const members = (await net.listMembers({ network: netName })).members;
  const serverMember = await db.query.networkMembers.findFirst({
    where: (m, { and, eq }) => and(eq(m.networkId, network.id), eq(m.instanceId, server.id)),
  });
  await t.check("VIP holders are exactly the bootstrap peer", async () => {
    expectEqual("holders", (await vipRow())?.holderMemberIds, [serverMember?.id]);
    return `member ${serverMember?.id.slice(0, 8)} (${members.length} in the network)`;
  });
  await t.check("VIP state active", async () => expectEqual("state", (await vipRow())?.state, "active"));
  await t.check("VIP is <network /64>:dead:beef:0:<16-bit hash>/128", async () => {
    const cidr = (await row())?.metadata.apiVipCidr ?? "";
    const prefix = network.prefix.replace(/::\/64$/, "");
    if (!new RegExp(`^${prefix}:dead:beef:0:[0-9a-f]{1,4}/128$`).test(cidr)) throw new Error(cidr);
    return cidr;
  });
  await t.check("api_endpoint is https://[<VIP>]:6443, never the peer address", () => {
    expectEqual("api_endpoint", c.apiEndpoint, `https://[${c.apiVip}]:6443`);
    if (c.apiEndpoint.includes(`[${server.address}]`)) throw new Error(`contains the peer ${server.address}`);
    if (!c.apiEndpoint.endsWith(":6443")) throw new Error(c.apiEndpoint);
    return `peer ${server.address} not in it`;
  });
  await t.check("node_count 1", () => expectEqual("node_count", c.nodeCount, 1));
  await t.check("kubeconfig stored, sealed at rest", async () => {
    const r = await row();
    if (!isSealed(r?.kubeconfig ?? "")) throw new Error("not sealed");
    expectEqual("kubeconfig", open(r?.kubeconfig, "kubeconfig"), kubeconfigFor(server.address, "first"));
    return "opens to what the server sent";
  });
  await t.check("server token stored sealed, starts with K10", async () => {
    const r = await row();
    const token = open(r?.serverToken, "server-token");
    if (!isSealed(r?.serverToken ?? "") || !token.startsWith("K10"))
      throw new Error(`token ${token.slice(0, 4)}...`);
    return `${token.slice(0, 8)}...`;
  });
  await t.check("the bootstrap node: role server, status active, bound to the node", async () => {
    const nodes = await db.select().from(k3sClusterNodes).where(eq(k3sClusterNodes.clusterId, c.id));
    expectEqual(
      "nodes",
      nodes.map((n) => [n.role, n.status, n.instanceId]),
      [["server", "active", server.id]],
    );
    return `node ${server.id.slice(0, 8)}`;
  });

  await t.check(
    "re-bootstrap: same cluster, kubeconfig and version refreshed, still one cluster",
    async () => {
      const again = await server.k3s.bootstrap({
        kubeconfig: kubeconfigFor(server.address, "second"),
        serverToken: "K10smoke::server:second",
        agentToken: "K10smoke::node:second",
        k3sVersion: V2,
      });
      expectEqual("created", again.created, false);
      expectEqual("cluster id", again.cluster?.id, c.id);
      expectEqual("version", again.cluster?.version, V2);
      expectEqual(
        "kubeconfig",
        open((await row())?.kubeconfig, "kubeconfig"),
        kubeconfigFor(server.address, "second"),
      );
      expectEqual("clusters", (await k3s.listClusters({})).clusters.length, 1);
      return `${c.id.slice(0, 8)} at ${V2}`;
    },
  );

  const worker = await t.step("node smoke-k3s-worker enrolled, its SDWAN peer in the network", () =>
    env.node("smoke-k3s-worker", netName),
  );
  await t.check(
    "JoinRequest from a new worker: cluster id, the cluster's endpoint, the rotated agent token",
    async () => {
      const j = await worker.k3s.joinRequest({});
      expectEqual(
        "join",
        [j.clusterId, j.apiEndpoint, j.token],
        [c.id, c.apiEndpoint, "K10smoke::node:second"],
      );
      return j.apiEndpoint;
    },
  );
  await t.check("RegisterNode (agent): joining, node_count 2", async () => {
    const r = await worker.k3s.registerNode({ role: "agent", k3sVersion: V2 });
    expectEqual("register", [r.node?.status, r.nodeCount], ["joining", 2]);
    return "joining, 2 nodes";
  });
  await t.check("MarkReady (worker): active, last heartbeat within 5 s", async () => {
    const r = await worker.k3s.markReady({ k3sVersion: V2 });
    const at = Number(r.node?.lastHeartbeatAt?.seconds ?? 0n) * 1000;
    expectEqual("status", r.node?.status, "active");
    if (Math.abs(Date.now() - at) > 5000) throw new Error(`last heartbeat ${new Date(at).toISOString()}`);
    return `${Math.abs(Date.now() - at)} ms ago`;
  });
  await t.check("MarkReady (server): the cluster is active", async () => {
    const r = await server.k3s.markReady({ k3sVersion: V2 });
    return expectEqual("cluster status", r.clusterStatus, "active");
  });
  await t.check("ListClusters contains the cluster", async () => {
    const ids = (await k3s.listClusters({})).clusters.map((x) => x.id);
    if (!ids.includes(c.id)) throw new Error(`ids ${ids.join(",")}`);
    return `${ids.length} cluster(s)`;
  });
  await t.check("GetCluster: id, flavor k3s, node_count 2", async () => {
    const g = (await k3s.getCluster({ cluster: c.name })).cluster;
    expectEqual("cluster", [g?.id, g?.flavor, g?.nodeCount], [c.id, "k3s", 2]);
    return `${g?.status}, ${g?.bootstrapEvents.length} bootstrap events`;
  });
  await t.check("ListClusterNodes: 2 nodes, roles server and agent", async () => {
    const nodes = (await k3s.listClusterNodes({ cluster: c.id })).nodes;
    expectEqual(
      "roles",
      nodes.map((n) => n.role),
      ["server", "agent"],
    );
    return nodes.map((n) => `${n.name}:${n.status}`).join(", ");
  });
  await t.check("GetKubeconfig: the stored kubeconfig and the API endpoint", async () => {
    const k = await k3s.getKubeconfig({ cluster: c.id });
    expectEqual("kubeconfig", k.kubeconfig, kubeconfigFor(server.address, "second"));
    expectEqual("api_endpoint", k.apiEndpoint, c.apiEndpoint);
    return `${k.kubeconfig.length} bytes`;
  });
  await t.check("MarkStopped (worker): disconnected", async () => {
    const r = await worker.k3s.markStopped({ reason: "smoke" });
    return expectEqual("status", r.node?.status, "disconnected");
  });
  await t.check("DecommissionCluster: 2 nodes freed; cluster, node rows and the VIP gone", async () => {
    const d = await k3s.decommissionCluster({ cluster: c.id });
    expectEqual("freed", d.freedNodeCount, 2);
    expectEqual("cluster", await row(), undefined);
    expectEqual(
      "nodes",
      (await db.select().from(k3sClusterNodes).where(eq(k3sClusterNodes.clusterId, c.id))).length,
      0,
    );
    expectEqual("VIP", await vipRow(), undefined);
    return "freed 2";
  });
  await t.check("Bootstrap from a node without an SDWAN peer: refused, saying SDWAN", async () => {
    const lone = await env.node("smoke-k3s-nopeer");
    const e = await refusal(lone.k3s.bootstrap({ kubeconfig: "x", serverToken: "K10x", k3sVersion: V1 }));
    if (e.code !== Code.FailedPrecondition || !e.rawMessage.includes("SDWAN")) throw new Error(e.message);
    return e.rawMessage;
  });
  await t.check("JoinRequest with no cluster: refused, saying no Kubernetes cluster", async () => {
    const e = await refusal(worker.k3s.joinRequest({}));
    if (e.code !== Code.FailedPrecondition || !e.rawMessage.includes("no Kubernetes cluster"))
      throw new Error(e.message);
    return e.rawMessage;
  });
}
