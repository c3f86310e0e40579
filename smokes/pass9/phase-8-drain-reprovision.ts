/**
 * Phase 8, drain -> terminate -> reprovision (predecessor seed 28, `smoke_test_k3s_drain_reprovision.rb`):
 * the sidecar's first agent drained (`pnctl k3s drain`: its node disconnected, a drain bootstrap event
 * naming its instance id), its instance deleted (ProvisionService.DeleteInstance: the hub removes its
 * cluster node, node_count one less), and a replacement agent enrolled and joined: node_count back,
 * the replacement an active agent. The sidecar's agents then list the replacement in its place.
 */
import { cliFor } from "../../hub/src/cli/test-cli.ts";
import { waitFor } from "../lib/wait.ts";
import { expectEqual } from "../pass2/k3s-env.ts";
import { memberIdOf } from "./hub-reads.ts";
import { liveChecks } from "./live.ts";
import { joinAgent } from "./phase-3-agent-join.ts";
import type { SiteCtx } from "./site.ts";

const PHASE = 8;

export async function drainReprovision(site: SiteCtx): Promise<void> {
  const { t, s, env, x } = site;
  const clusterId = site.need("cluster_id", PHASE);
  const networkId = site.need("network_id", PHASE);
  const networkName = site.need("network_name", PHASE);
  const agentIds = site.need("agent_instance_ids", PHASE);
  const peerIds = site.get("agent_peer_ids") ?? [];
  const agentId = agentIds[0] ?? "";
  const cluster = async () => {
    const c = (await env.k3s.getCluster({ cluster: clusterId })).cluster;
    if (!c) throw new Error(`GetCluster ${clusterId}: no cluster`);
    return c;
  };
  const start = (await cluster()).nodeCount;
  const agent = await t.step(
    `the first agent ${agentId.slice(0, 8)}: a node of the cluster, role agent`,
    async () => {
      const n = (await env.k3s.listClusterNodes({ cluster: clusterId })).nodes.find(
        (r) => r.nodeId === agentId,
      );
      expectEqual("role", n?.role, "agent");
      return n;
    },
  );
  t.info(`${agent?.name}: node_count ${start} before the drain`);

  await t.check("drain (pnctl k3s drain): the agent's node disconnected", async () => {
    const r = await cliFor(() => s.hub)(
      "k3s",
      "drain",
      clusterId,
      agentId,
      "--reason",
      "pass 9 reprovision",
      "--json",
    );
    if (r.code !== 0) throw new Error(`pnctl k3s drain -> ${r.code}: ${r.err}`);
    const v = JSON.parse(r.out) as { role: string; status: string; clusterStatus: string };
    expectEqual(
      "role, status, cluster status",
      [v.role, v.status, v.clusterStatus],
      ["agent", "disconnected", "active"],
    );
    return `cluster still ${v.clusterStatus}`;
  });
  await t.check("drain: a bootstrap event naming the instance id", async () => {
    const e = (await cluster()).bootstrapEvents.at(-1);
    expectEqual("phase, status", [e?.phase, e?.status], ["drain", "disconnected"]);
    if (!e?.message.includes(agentId)) throw new Error(`message "${e?.message}" does not name ${agentId}`);
    return e.message;
  });
  await t.check(
    `terminate (DeleteInstance): the agent's cluster node gone, node_count ${start - 1}`,
    async () => {
      await s.provision.deleteInstance({ id: agentId });
      await waitFor(
        `the cluster node of deleted instance ${agentId.slice(0, 8)} to be removed`,
        async () =>
          !(await env.k3s.listClusterNodes({ cluster: clusterId })).nodes.some((n) => n.nodeId === agentId),
        { timeoutMs: 10_000, intervalMs: 50 },
      );
      const c = await cluster();
      expectEqual("node_count", c.nodeCount, start - 1);
      const e = c.bootstrapEvents.at(-1);
      if (e?.phase !== "remove" || !e.message.includes(agentId))
        throw new Error(`last bootstrap event ${JSON.stringify(e)}`);
      return e.message;
    },
  );

  const label = `k3s-${x}-agent-replacement`;
  const replacement = await t.step(`reprovision: ${label} enrolled, its SDWAN peer in ${networkName}`, () =>
    site.enroll(label, networkName),
  );
  await joinAgent(site, replacement, label, clusterId);
  await t.check(`reprovision: node_count back to ${start}`, async () =>
    expectEqual("node_count", (await cluster()).nodeCount, start),
  );
  await t.check("reprovision: the replacement is an active agent of the cluster", async () => {
    const n = (await env.k3s.listClusterNodes({ cluster: clusterId })).nodes.find(
      (r) => r.nodeId === replacement.id,
    );
    expectEqual("role, status", [n?.role, n?.status], ["agent", "active"]);
    return n?.name;
  });
  const peer = await memberIdOf(s, replacement.id, networkId);
  site.put({
    agent_instance_ids: [replacement.id, ...agentIds.slice(1)],
    agent_peer_ids: [peer, ...peerIds.slice(1)],
  });
  t.info(
    `sidecar: site_${x}_agent_instance_ids ${[replacement.id, ...agentIds.slice(1)].map((i) => i.slice(0, 8)).join(", ")}`,
  );
  await liveChecks(t, "single", ["the drained agent VM's k3s stops, the replacement VM joins (600 s)"]);
}
