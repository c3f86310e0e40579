/**
 * Pass 3, site tier: three QEMU nodes on a lab network bring up the real WireGuard mesh. Traffic
 * between nodes is proven from the nodes themselves (the test-only `debug.ping` hook, `powernode.debug=1`)
 * and watched on the lab bridge.
 */
import { join } from "node:path";
import { setDebugSpec } from "@powernode/hub";
import { EVENTS, type FleetEvent, type Network, NodeState } from "@powernode/proto";
import { buildModules, publishModules } from "../lib/built-modules.ts";
import { nodeEvents } from "../lib/events.ts";
import { scanForPrivateKeys } from "../lib/key-scan.ts";
import type { Packet } from "../lib/lab.ts";
import type { PassContext } from "../lib/pass.ts";
import { bootSiteNodes, type SiteNode, type SiteNodes } from "../lib/site-nodes.ts";
import { waitFor } from "../lib/wait.ts";
import { sdwanSiteChecks } from "./sdwan-site.ts";

const HEARTBEAT_SECONDS = 5;
/** Generous under TCG: three emulated nodes share two host cores. */
const MESH_TIMEOUT_MS = 180_000;

export interface PingResult {
  from: string;
  to: string;
  received: number;
  transmitted: number;
}

/** Members' overlay addresses by node id. */
async function addresses(site: SiteNodes, net: Network): Promise<Map<string, string>> {
  const { members } = await site.hub.network.listMembers({ network: net.id });
  return new Map(members.map((m) => [m.nodeId, m.address]));
}

/**
 * Each `from` node pings each of its `to` targets over the mesh interface (debug.ping, 3 echoes); resolves
 * with every result once each node has reported them for the new desired-state version.
 */
async function pingAll(
  site: SiteNodes,
  net: Network,
  pairs: ReadonlyArray<[SiteNode, SiteNode]>,
): Promise<PingResult[]> {
  const addr = await addresses(site, net);
  const iface = `wg-sdwan-${net.handle}`;
  return pingTargets(
    site,
    pairs.map(([from, to]) => ({
      from,
      to: to.name,
      target: addr.get(to.instanceId) ?? "",
      interface: iface,
    })),
  );
}

/** One echo request series: from a node to an address out of one interface, named `to` in results. */
export interface PingSpec {
  from: SiteNode;
  to: string;
  target: string;
  interface: string;
}

/** Runs the pings (each `from` node all of its at once, debug.ping, 3 echoes) and reads their results. */
export async function pingTargets(site: SiteNodes, specs: readonly PingSpec[]): Promise<PingResult[]> {
  const byFrom = new Map<SiteNode, PingSpec[]>();
  for (const p of specs) byFrom.set(p.from, [...(byFrom.get(p.from) ?? []), p]);
  const versions = new Map<SiteNode, number>();
  for (const [f, ps] of byFrom) {
    const ping = ps.map((p) => ({ target: p.target, interface: p.interface, count: 3 }));
    versions.set(f, await setDebugSpec(site.hub.hub.deps, f.instanceId, { ping }));
  }
  const out: PingResult[] = [];
  for (const [f, ps] of byFrom) {
    const want = String(versions.get(f));
    const events = await waitFor(
      `${f.name}'s ${ps.length} ping results for version ${want}`,
      async () => {
        const e = (await nodeEvents(site.hub.fleet, f.instanceId)).filter(
          (x: FleetEvent) => x.kind === EVENTS.debugPing.kind && x.payload?.version === want,
        );
        return e.length >= ps.length ? e : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 500 },
    );
    for (const p of ps) {
      const e = events.find((x) => x.payload?.target === p.target);
      out.push({
        from: f.name,
        to: p.to,
        received: Number(e?.payload?.received ?? 0),
        transmitted: Number(e?.payload?.transmitted ?? 0),
      });
    }
  }
  return out;
}

const allPairs = (nodes: readonly SiteNode[]): Array<[SiteNode, SiteNode]> =>
  nodes.flatMap((a) => nodes.filter((b) => b !== a).map((b): [SiteNode, SiteNode] => [a, b]));

const fmt = (r: readonly PingResult[]) =>
  r.map((p) => `${p.from}->${p.to} ${p.received}/${p.transmitted}`).join(", ");

/** Waits until GetMeshHealth says every expected peer has a recent handshake; returns seconds waited. */
export async function fullMesh(site: SiteNodes, net: Network, what: string): Promise<number> {
  const started = performance.now();
  await waitFor(
    what,
    async () => {
      const h = await site.hub.network.getMeshHealth({ network: net.id });
      return h.fullMesh || undefined;
    },
    { timeoutMs: MESH_TIMEOUT_MS, intervalMs: 500 },
  );
  return (performance.now() - started) / 1000;
}

/**
 * IP packets between two node underlay addresses that are not WireGuard UDP on the network's port
 * (ARP between them is address resolution on the lab's L2, not traffic: it is counted, not refused).
 */
function notWireguard(packets: readonly Packet[], underlay: ReadonlySet<string>, port: number): Packet[] {
  return packets.filter(
    (p) =>
      p.protocol !== "arp" &&
      p.src !== undefined &&
      p.dst !== undefined &&
      underlay.has(p.src) &&
      underlay.has(p.dst) &&
      !(p.protocol === "udp" && (p.srcPort === port || p.dstPort === port)),
  );
}

export async function meshSiteTier(t: PassContext): Promise<void> {
  const built = await buildModules(t, t.args.arch, [
    "system-base",
    "frr",
    "openvswitch",
    "ovn-host",
    "ovn-central",
  ]);
  const site = await bootSiteNodes(t, {
    arch: t.args.arch,
    count: 3,
    names: ["mesh-a", "mesh-b", "mesh-c"],
    template: "sdwan",
    hub: { heartbeatSeconds: HEARTBEAT_SECONDS },
    provider: { kernelArgs: ["powernode.debug=1"] },
    lab: { name: "pass3", index: 3 },
    async beforeCreate(s) {
      await t.step("publish the modules; template sdwan = system-base, frr and openvswitch", async () => {
        await publishModules(s, built);
        await s.provision.createTemplate({
          name: "sdwan",
          modules: [{ name: "system-base" }, { name: "frr" }, { name: "openvswitch" }],
        });
      });
    },
  });
  const runningAt = performance.now();
  const [a, b, c] = site.nodes as [SiteNode, SiteNode, SiteNode];
  t.info(`3 nodes RUNNING ${site.secondsToRunning.toFixed(1)} s after the first CreateInstance`);
  const net = await t.step("CreateNetwork and JoinNetwork for the three nodes", async () => {
    const n = (await site.hub.network.createNetwork({ name: `pass3-site-${Date.now().toString(36)}` }))
      .network;
    if (!n) throw new Error("CreateNetwork returned no network");
    for (const x of site.nodes) await site.hub.network.joinNetwork({ network: n.id, nodeId: x.instanceId });
    t.info(`network ${n.name}: ${n.prefix} on wg-sdwan-${n.handle}, port ${n.listenPort}`);
    return n;
  });

  await t.check("full mesh: every node has a handshake with both others", async () => {
    await fullMesh(site, net, "every peer of every node up (GetMeshHealth)");
    const seconds = (performance.now() - runningAt) / 1000;
    t.state.secondsRunningToFullMesh = seconds;
    return `${seconds.toFixed(1)} s from the third node RUNNING to full mesh`;
  });

  const capture = await t.step("capture on the lab bridge", () =>
    site.lab.capture(join(t.outDir, "lab.pcap")),
  );
  t.keepOnFailure("lab capture", capture.file);
  const pings = await t.step("each pair pings over the mesh, both directions", () =>
    pingAll(site, net, allPairs(site.nodes)),
  );
  const packets = await capture.stop();
  await t.check("each pair pings over wg-sdwan (both directions)", () => {
    const failed = pings.filter((p) => p.received === 0);
    if (failed.length > 0) throw new Error(`no reply: ${fmt(failed)}`);
    return fmt(pings);
  });
  await t.check("the bridge saw only WireGuard UDP between the nodes: no ICMP in clear", () => {
    const underlay = new Set(site.nodes.map((n) => n.underlayAddress));
    const wire = packets.filter(
      (p) => p.src && p.dst && underlay.has(p.src) && underlay.has(p.dst) && p.protocol === "udp",
    );
    if (wire.length < pings.length * 2)
      throw new Error(`only ${wire.length} WireGuard packets between nodes`);
    const other = notWireguard(packets, underlay, net.listenPort);
    if (other.length > 0)
      throw new Error(`${other.length} other packets between nodes, e.g. ${JSON.stringify(other[0])}`);
    const icmp = packets.filter((p) => p.protocol === "icmp" || p.protocol === "icmpv6");
    const overlay = icmp.filter((p) => p.src?.startsWith(net.prefix.split("::")[0] ?? "-"));
    if (overlay.length > 0) throw new Error(`${overlay.length} overlay ICMP packets in clear`);
    const arp = packets.filter((p) => p.protocol === "arp").length;
    return `${packets.length} packets captured, ${wire.length} WireGuard UDP between nodes on port ${net.listenPort}, ${arp} ARP, 0 other IP`;
  });

  await t.check("no hub table holds a node's WireGuard private key", async () => {
    const { members } = await site.hub.network.listMembers({ network: net.id });
    const scan = await scanForPrivateKeys(
      site.hub.hub,
      members.map((m) => m.publicKey),
    );
    if (members.some((m) => m.publicKey === "")) throw new Error("a member reported no key");
    if (scan.leaks.length > 0) throw new Error(scan.leaks.join("; "));
    return `${scan.tables} tables, ${scan.candidates} 32-byte values tried as X25519 private keys`;
  });

  await t.check(
    `revoking c: a and b drop c within one heartbeat interval (${HEARTBEAT_SECONDS} s); pings to c fail`,
    async () => {
      const revokedAt = Date.now();
      await site.hub.network.revokeCredential({ network: net.id, nodeId: c.instanceId });
      const drops = await waitFor(
        "a and b to record c's removal",
        async () => {
          const out: number[] = [];
          for (const x of [a, b]) {
            const e = (await nodeEvents(site.hub.fleet, x.instanceId)).find(
              (ev) =>
                ev.kind === EVENTS.meshPeerRemoved.kind &&
                ev.payload?.peer === c.instanceId &&
                Number(ev.createdAt?.seconds ?? 0n) * 1000 >= revokedAt - 1000,
            );
            if (!e) return undefined;
            out.push(
              Number(e.createdAt?.seconds ?? 0n) * 1000 +
                Math.floor((e.createdAt?.nanos ?? 0) / 1e6) -
                revokedAt,
            );
          }
          return out;
        },
        { timeoutMs: 60_000, intervalMs: 250 },
      );
      const late = drops.filter((ms) => ms > HEARTBEAT_SECONDS * 1000);
      if (late.length > 0) throw new Error(`dropped after ${drops.map((d) => `${d} ms`).join(", ")}`);
      const r = await pingAll(site, net, [
        [a, c],
        [b, c],
      ]);
      if (r.some((p) => p.received > 0)) throw new Error(`c still answers: ${fmt(r)}`);
      return `dropped after ${drops.map((d) => `${(d / 1000).toFixed(2)} s`).join(" and ")}; ${fmt(r)}`;
    },
  );

  await t.check("reissuing c's credential: c returns (pings answer again)", async () => {
    const started = performance.now();
    await site.hub.network.issueCredential({ network: net.id, nodeId: c.instanceId });
    const r = await waitFor(
      "pings to c to answer",
      async () => {
        const res = await pingAll(site, net, [
          [a, c],
          [b, c],
        ]);
        return res.every((p) => p.received > 0) ? res : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 1000 },
    );
    return `${fmt(r)} after ${((performance.now() - started) / 1000).toFixed(1)} s`;
  });

  await sdwanSiteChecks(t, site, site.nodes, {
    network: net.id,
    ping: (pairs) => pingAll(site, net, pairs),
    pingTargets: (specs) => pingTargets(site, specs),
  });

  await t.check("a rebooted node keeps its address and rejoins without operator action", async () => {
    const before = (await addresses(site, net)).get(b.instanceId);
    const started = performance.now();
    await site.hub.provision.stopInstance({ id: b.instanceId });
    await site.hub.provision.startInstance({ id: b.instanceId });
    await waitFor(
      "b RUNNING again",
      async () => (await site.hub.fleet.getNode({ id: b.instanceId })).node?.state === NodeState.RUNNING,
      { timeoutMs: MESH_TIMEOUT_MS, intervalMs: 500 },
    );
    const after = (await addresses(site, net)).get(b.instanceId);
    if (after !== before) throw new Error(`address ${before} -> ${after}`);
    const r = await waitFor(
      "pings between b and the others",
      async () => {
        const res = await pingAll(site, net, [
          [a, b],
          [b, a],
          [c, b],
        ]);
        return res.every((p) => p.received > 0) ? res : undefined;
      },
      { timeoutMs: MESH_TIMEOUT_MS, intervalMs: 1000 },
    );
    return `${after} kept; ${fmt(r)} ${((performance.now() - started) / 1000).toFixed(1)} s after the reboot began`;
  });
}
