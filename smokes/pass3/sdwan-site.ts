/**
 * Pass 3, site tier, the SDWAN part built so far: host bridges compiled by the hub are made by the
 * agents on real nodes and read back from the events they report (`system.sdwan.bridge_up` /
 * `.bridge_deleted`, with the bridge's name and kind).
 */
import { EVENTS, type FleetEvent } from "@powernode/proto";
import { nodeEvents } from "../lib/events.ts";
import type { PassContext } from "../lib/pass.ts";
import type { SiteNode, SiteNodes } from "../lib/site-nodes.ts";
import { waitFor } from "../lib/wait.ts";

const TIMEOUT_MS = 120_000;

/** Pings between pairs over the mesh: the number of echoes answered per pair. */
export type MeshPing = (pairs: ReadonlyArray<[SiteNode, SiteNode]>) => Promise<{ received: number }[]>;

export async function sdwanSiteChecks(
  t: PassContext,
  site: SiteNodes,
  nodes: readonly SiteNode[],
  mesh: { network: string; ping: MeshPing },
) {
  const { sdwan } = site.hub;
  const eventFor = (n: SiteNode, kind: string, bridge: string) =>
    waitFor(
      `${n.name}'s ${kind} for ${bridge}`,
      async () =>
        (await nodeEvents(site.hub.fleet, n.instanceId)).find(
          (e: FleetEvent) => e.kind === kind && e.payload?.bridge === bridge,
        ),
      { timeoutMs: TIMEOUT_MS, intervalMs: 1000 },
    );

  const allocated = await t.step("allocate a host bridge on each node (lightweight: linux)", async () => {
    const out: { node: SiteNode; id: string; name: string; kind: string }[] = [];
    for (const n of nodes) {
      const b = (await sdwan.allocateHostBridge({ nodeId: n.instanceId })).bridge;
      if (!b) throw new Error(`${n.name}: no bridge`);
      out.push({ node: n, id: b.id, name: b.name, kind: b.kind });
    }
    return out;
  });

  await t.check("each node makes its compiled bridge (name and kind read back from its events)", async () => {
    const seen: string[] = [];
    for (const a of allocated) {
      const e = await eventFor(a.node, EVENTS.sdwanBridgeUp.kind, a.name);
      if (e.payload?.kind !== a.kind)
        throw new Error(`${a.node.name}: ${JSON.stringify(e.payload)}, want ${a.kind}`);
      seen.push(`${a.node.name} ${a.name} (${String(e.payload?.kind)})`);
    }
    return seen.join(", ");
  });

  await t.check("draining a node's bridge: the node deletes it; removed, it leaves the section", async () => {
    const first = allocated[0];
    if (!first) throw new Error("no bridge allocated");
    await sdwan.drainHostBridge({ bridgeId: first.id });
    await eventFor(first.node, EVENTS.sdwanBridgeDeleted.kind, first.name);
    const removed = (await sdwan.removeHostBridge({ bridgeId: first.id })).bridge;
    return `${first.node.name} deleted ${first.name}; now ${removed?.state}`;
  });

  await t.check(
    "VRFs: two nodes route the network in their VRF (interface enslaved, read back from their events) and still ping each other over it",
    async () => {
      const [a, b] = nodes as [SiteNode, SiteNode];
      const got: string[] = [];
      for (const n of [a, b]) {
        const v = (await sdwan.allocateVrf({ nodeId: n.instanceId, network: mesh.network })).vrf;
        if (!v) throw new Error(`${n.name}: no VRF`);
        const e = await waitFor(
          `${n.name}'s system.sdwan.vrf.routed for ${v.vrfName}`,
          async () =>
            (await nodeEvents(site.hub.fleet, n.instanceId)).find(
              (x: FleetEvent) => x.kind === EVENTS.sdwanVrfRouted.kind && x.payload?.vrf === v.vrfName,
            ),
          { timeoutMs: TIMEOUT_MS, intervalMs: 1000 },
        );
        if (e.payload?.interface !== v.interfaceName)
          throw new Error(`${n.name}: ${JSON.stringify(e.payload)}`);
        got.push(`${n.name} ${v.interfaceName} in ${v.vrfName} (table ${v.tableId})`);
      }
      // The mesh controller puts the address back within its 10 s pass after the kernel cycled the link.
      const r = await waitFor(
        "pings both ways with the interfaces in their VRFs",
        async () => {
          const res = await mesh.ping([
            [a, b],
            [b, a],
          ]);
          return res.every((p) => p.received > 0) ? res : undefined;
        },
        { timeoutMs: TIMEOUT_MS, intervalMs: 2000 },
      );
      return `${got.join(", ")}; pings ${r.map((p) => `${p.received}/3`).join(", ")}`;
    },
  );
}
