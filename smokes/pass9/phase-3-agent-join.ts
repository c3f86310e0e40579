/**
 * Phase 3, agent join (predecessor seed 23, `smoke_test_k3s_agent_join.rb`): two agents
 * `k3s-<x>-agent-1/2` join the site's cluster as the k3s controller does (JoinRequest naming the
 * cluster, RegisterNode agent, MarkReady): five nodes, both agents active. Negative: a lightweight
 * agent registering with an ovn_kubernetes cluster (a stub around a heavyweight node in the same
 * network, decommissioned afterwards) is refused with CniProfileMismatch. A later run of this phase
 * alone re-joins the agents the sidecar lists that are still in the cluster and enrolls the others.
 */
import { Code } from "@connectrpc/connect";
import type { K3sSmokeNode } from "../pass2/k3s-env.ts";
import { expectEqual, refusal } from "../pass2/k3s-env.ts";
import { memberIdOf } from "./hub-reads.ts";
import { liveChecks } from "./live.ts";
import { AGENTS, NODES, restoreOrFail, type SiteCtx } from "./site.ts";

const K3S_VERSION = "v1.30.4+k3s1";
const PHASE = 3;

/** JoinRequest (the cluster named), RegisterNode agent, MarkReady: the agent's half of joining. */
export async function joinAgent(
  site: SiteCtx,
  n: K3sSmokeNode,
  label: string,
  clusterId: string,
): Promise<void> {
  const { t, env, x } = site;
  const endpoint = (await env.k3s.getCluster({ cluster: clusterId })).cluster?.apiEndpoint ?? "";
  await t.check(`${label}: JoinRequest (the cluster named) -> its endpoint, the agent token`, async () => {
    const j = await n.k3s.joinRequest({ clusterId });
    expectEqual(
      "join",
      [j.clusterId, j.apiEndpoint, j.token],
      [clusterId, endpoint, `K10smoke::node:site-${x}`],
    );
    return j.apiEndpoint;
  });
  await t.check(`${label}: RegisterNode (agent) role agent, joining`, async () => {
    const r = await n.k3s.registerNode({ clusterId, role: "agent", k3sVersion: K3S_VERSION });
    expectEqual(
      "register",
      [r.node?.role, r.node?.status, r.node?.clusterId],
      ["agent", "joining", clusterId],
    );
    return `node_count ${r.nodeCount}`;
  });
  await t.check(`${label}: MarkReady active`, async () => {
    const r = await n.k3s.markReady({ k3sVersion: K3S_VERSION });
    return expectEqual("status", r.node?.status, "active");
  });
}

export async function agentJoin(site: SiteCtx): Promise<void> {
  const { t, s, env, x } = site;
  const clusterId = site.need("cluster_id", PHASE);
  const networkId = site.need("network_id", PHASE);
  const networkName = site.need("network_name", PHASE);
  site.need("ha_instance_ids", PHASE);
  const inCluster = new Set(
    (await env.k3s.listClusterNodes({ cluster: clusterId })).nodes.map((n) => n.nodeId),
  );
  // Agents the sidecar lists that are still in the cluster are joined again; the others replaced.
  const kept = (site.get("agent_instance_ids") ?? []).filter((id) => inCluster.has(id));
  const agents: K3sSmokeNode[] = [];
  for (let i = 0; i < AGENTS; i++) {
    const keptId = kept[i];
    const again = keptId ? restoreOrFail(site, keptId, "agent", PHASE) : undefined;
    const label = again?.name ?? `k3s-${x}-agent-${i + 1}`;
    const n = await t.step(
      again
        ? `agent ${label}: the sidecar's, joining again`
        : `agent ${label} enrolled, its SDWAN peer in ${networkName}`,
      async () => again ?? (await site.enroll(label, networkName)),
    );
    await joinAgent(site, n, label, clusterId);
    agents.push(n);
  }
  site.put({
    agent_instance_ids: agents.map((n) => n.id),
    agent_peer_ids: await Promise.all(agents.map((n) => memberIdOf(s, n.id, networkId))),
  });
  await t.check(`node_count ${NODES}`, async () =>
    expectEqual("node_count", (await env.k3s.getCluster({ cluster: clusterId })).cluster?.nodeCount, NODES),
  );
  await t.check("both agents active in ListClusterNodes", async () => {
    const nodes = (await env.k3s.listClusterNodes({ cluster: clusterId })).nodes;
    const mine = agents.map((a) => nodes.find((n) => n.nodeId === a.id));
    expectEqual(
      "agents",
      mine.map((n) => [n?.role, n?.status]),
      agents.map(() => ["agent", "active"]),
    );
    return mine.map((n) => n?.name).join(", ");
  });
  const first = agents[0];
  if (first) await cniMismatchCheck(site, first, networkName);
  await liveChecks(t, "single", [`two agent VMs join the cluster (node_count >= ${NODES}, 600 s)`]);
}

/** The negative: the first agent, made lightweight, registering with an ovn_kubernetes stub cluster. */
async function cniMismatchCheck(site: SiteCtx, agent: K3sSmokeNode, networkName: string): Promise<void> {
  const { t, s, env, x } = site;
  const heavy = await t.step(
    `stub cluster: ovn_kubernetes around a heavyweight node in ${networkName}`,
    async () => {
      const h = await site.enroll(`k3s-${x}-cni-stub`, networkName);
      await env.k3s.setNetworkProfile({ nodeId: h.id, profile: "heavyweight" });
      const c = (
        await env.k3s.createCluster({
          nodeId: h.id,
          name: `k3s-${x}-cni-stub-${env.stamp}`,
          cni: "ovn_kubernetes",
          network: networkName,
        })
      ).cluster;
      if (!c) throw new Error("CreateCluster returned no cluster");
      return { node: h, cluster: c };
    },
  );
  try {
    await env.k3s.setNetworkProfile({ nodeId: agent.id, profile: "lightweight" });
    await t.check(
      "negative: a lightweight agent registering with an ovn_kubernetes cluster: CniProfileMismatch",
      async () => {
        const e = await refusal(agent.k3s.registerNode({ clusterId: heavy.cluster.id, role: "agent" }));
        if (e.code !== Code.FailedPrecondition || !e.rawMessage.startsWith("CniProfileMismatch"))
          throw new Error(`${Code[e.code]}: ${e.rawMessage}`);
        return e.rawMessage;
      },
    );
  } finally {
    await env.k3s.setNetworkProfile({ nodeId: agent.id, profile: "" });
    await env.k3s.decommissionCluster({ cluster: heavy.cluster.id });
    await s.provision.deleteInstance({ id: heavy.node.id });
  }
  await t.check(
    "after the negative: the stub gone, the agent's profile restored, still in the site cluster",
    async () => {
      const names = (await env.k3s.listClusters({})).clusters.map((c) => c.name);
      if (names.includes(heavy.cluster.name)) throw new Error(`${heavy.cluster.name} still listed`);
      const cni = await env.k3s.getNodeCni({ nodeId: agent.id });
      return expectEqual("agent's CNI", [cni.cni, cni.source.startsWith("cluster ")], ["flannel", true]);
    },
  );
}
