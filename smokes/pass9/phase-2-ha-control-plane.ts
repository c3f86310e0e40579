/**
 * Phase 2, HA control plane (predecessor seed 22, `smoke_test_k3s_ha_control_plane.rb`): two more
 * servers `k3s-<x>-ha-2/3` join the site's cluster as the k3s controller does (JoinRequest for the
 * server token, RegisterNode server, MarkReady); three servers; the API VIP's failover candidates are
 * exactly the two HA peers and the bootstrap peer stays primary; then the failover drill
 * ({@link vipFailoverChecks}). A later run of this phase alone re-joins the same servers.
 */
import type { K3sSmokeNode } from "../pass2/k3s-env.ts";
import { expectEqual } from "../pass2/k3s-env.ts";
import { apiVipOf, memberIdOf } from "./hub-reads.ts";
import { liveChecks } from "./live.ts";
import { AGENTS, restoreOrFail, SERVERS, type SiteCtx } from "./site.ts";

const K3S_VERSION = "v1.30.4+k3s1";
const PHASE = 2;

export async function haControlPlane(site: SiteCtx): Promise<void> {
  const { t, s, env, x } = site;
  const clusterId = site.need("cluster_id", PHASE);
  const networkId = site.need("network_id", PHASE);
  const networkName = site.need("network_name", PHASE);
  const bootstrapPeer = site.need("peer_id", PHASE);
  const bootstrapId = site.need("instance_id", PHASE);
  const apiEndpoint = (await env.k3s.getCluster({ cluster: clusterId })).cluster?.apiEndpoint ?? "";
  const kept = site.get("ha_instance_ids") ?? [];

  const servers: K3sSmokeNode[] = [];
  for (const [i, label] of [`k3s-${x}-ha-2`, `k3s-${x}-ha-3`].entries()) {
    const keptId = kept[i];
    const n = await t.step(
      `server ${label} enrolled, its SDWAN peer in ${networkName}`,
      async () => (keptId ? site.restore(keptId) : undefined) ?? (await site.enroll(label, networkName)),
    );
    await t.check(
      `${label}: JoinRequest (server) -> the cluster, its endpoint, the server token`,
      async () => {
        const j = await n.k3s.joinRequest({ clusterId, role: "server" });
        expectEqual(
          "join",
          [j.clusterId, j.apiEndpoint, j.token],
          [clusterId, apiEndpoint, `K10smoke::server:site-${x}`],
        );
        return j.apiEndpoint;
      },
    );
    await t.check(`${label}: RegisterNode (server) joining, MarkReady active`, async () => {
      const r = await n.k3s.registerNode({ clusterId, role: "server", k3sVersion: K3S_VERSION });
      expectEqual("register", [r.node?.role, r.node?.status], ["server", "joining"]);
      const ready = await n.k3s.markReady({ k3sVersion: K3S_VERSION });
      expectEqual("ready", ready.node?.status, "active");
      return `node_count ${r.nodeCount}`;
    });
    servers.push(n);
  }
  const haPeers = await Promise.all(servers.map((n) => memberIdOf(s, n.id, networkId)));
  site.put({ ha_instance_ids: servers.map((n) => n.id), ha_peer_ids: haPeers });

  const nodes = (await env.k3s.listClusterNodes({ cluster: clusterId })).nodes;
  const agents = nodes.filter((n) => n.role === "agent").length;
  await t.check(
    `node_count ${SERVERS}${agents ? ` servers + ${agents} agents (phase 3 ran before)` : ""}`,
    async () => {
      const c = (await env.k3s.getCluster({ cluster: clusterId })).cluster;
      expectEqual(
        "servers",
        nodes
          .filter((n) => n.role === "server")
          .map((n) => n.nodeId)
          .sort(),
        [bootstrapId, ...servers.map((n) => n.id)].sort(),
      );
      if (agents !== 0 && agents !== AGENTS)
        throw new Error(`${agents} agents in the cluster, want 0 or ${AGENTS}`);
      return expectEqual("node_count", c?.nodeCount, SERVERS + agents);
    },
  );
  const vip = await apiVipOf(s, clusterId);
  await t.check("VIP: exactly 2 failover candidates, the 2 HA peers", () => {
    expectEqual("failover candidates", [...vip.holders.slice(1)].sort(), [...haPeers].sort());
    return vip.holders
      .slice(1)
      .map((m) => m.slice(0, 8))
      .join(", ");
  });
  await t.check("VIP: the bootstrap peer still primary", () => {
    expectEqual("primary", vip.holders[0], bootstrapPeer);
    return `member ${bootstrapPeer.slice(0, 8)}`;
  });
  await vipFailoverChecks(site, { clusterId, vipId: vip.id, bootstrapPeer, haPeers, servers });
  await liveChecks(t, "single", [`two HA server VMs join the cluster (node_count >= ${SERVERS}, 600 s)`]);
}

/**
 * The failover drill on the API VIP, through NetworkService:
 * - a manual failover (reason manual_failover, a `smoke-k3s-drill-<stamp>` correlation) moves the
 *   primary to the first HA peer and the bootstrap peer to the end of the failover list, with a
 *   vip_assignments row;
 * - then the sensor path (the predecessor's SMOKE_K3S_VIP_REAL_FAILOVER=1, here always): the
 *   second HA server heartbeats, the new primary does not. The hub's `vip failover` job finds the
 *   primary lost (no heartbeat, no handshake) and moves the VIP to the live candidate, reason
 *   sensor_failover.
 * - Last, every server heartbeats and a manual failover gives the VIP back to the bootstrap peer,
 *   so the phase can run again.
 */
export async function vipFailoverChecks(
  site: SiteCtx,
  vip: {
    clusterId: string;
    vipId: string;
    bootstrapPeer: string;
    haPeers: string[];
    servers: K3sSmokeNode[];
  },
): Promise<void> {
  const { t, s } = site;
  const [ha2, ha3] = vip.haPeers;
  const [ha2Node, ha3Node] = vip.servers;
  if (!ha2 || !ha3 || !ha2Node || !ha3Node) throw new Error("phase 2: two HA servers needed");
  const correlationId = `smoke-k3s-drill-${Date.now().toString(36)}`;
  const holders = async () => (await apiVipOf(s, vip.clusterId)).holders;
  const rows = async () => (await s.network.listVipAssignments({ vip: vip.vipId })).assignments;

  await t.check(
    "manual failover (manual_failover): the primary moves to an HA peer, the old one to the end",
    async () => {
      const r = await s.network.failoverVip({
        vip: vip.vipId,
        to: ha2,
        reason: "manual_failover",
        correlationId,
      });
      expectEqual("moved", r.moved, true);
      expectEqual("holders", await holders(), [ha2, ha3, vip.bootstrapPeer]);
      return `primary ${ha2.slice(0, 8)}, failover list ${ha3.slice(0, 8)}, ${vip.bootstrapPeer.slice(0, 8)}`;
    },
  );
  await t.check(
    "a VirtualIpAssignment row: manual_failover, bootstrap peer -> HA peer, the drill's correlation",
    async () => {
      const row = (await rows()).find((r) => r.correlationId === correlationId);
      expectEqual(
        "row",
        [row?.reason, row?.fromMemberId, row?.toMemberId],
        ["manual_failover", vip.bootstrapPeer, ha2],
      );
      return `${row?.id.slice(0, 8)}`;
    },
  );
  await t.check(
    "sensor failover: the primary lost (no heartbeat), the live candidate takes the VIP",
    async () => {
      await ha3Node.client.heartbeat({ bootId: "pass9-ha-3", agentVersion: "smoke" });
      await s.hub.scheduler.runNow("vip failover");
      expectEqual("holders", await holders(), [ha3, vip.bootstrapPeer, ha2]);
      const row = (await rows()).find((r) => r.reason === "sensor_failover" && r.toMemberId === ha3);
      expectEqual("row", [row?.fromMemberId, row?.toMemberId], [ha2, ha3]);
      return `primary ${ha3.slice(0, 8)} (sensor_failover from ${ha2.slice(0, 8)})`;
    },
  );
  site.put({ vip_primary_after_failover: ha3 });
  await t.check(
    "every server alive again; a manual failover gives the VIP back to the bootstrap peer",
    async () => {
      const boot = restoreOrFail(site, site.need("instance_id", PHASE), "bootstrap server", 1);
      for (const n of [boot, ha2Node, ha3Node])
        await n.client.heartbeat({ bootId: `pass9-${n.id}`, agentVersion: "smoke" });
      await s.network.failoverVip({
        vip: vip.vipId,
        to: vip.bootstrapPeer,
        reason: "manual_failover",
        correlationId,
      });
      await s.hub.scheduler.runNow("vip failover");
      expectEqual("primary", (await holders())[0], vip.bootstrapPeer);
      const reasons = (await rows()).map((r) => r.reason);
      return `history: ${reasons.join(", ")}`;
    },
  );
}
