/**
 * Host bridges: allocated per node (`short_id` 1, 2, ... never reused, `pwnbr-<short id>`), of the
 * kind asked or the node's profile's, then active -> draining -> removed. Allocating a kind the node
 * has active returns that bridge; a removed one of the kind is re-adopted (same row) before a new one
 * is made. Each change runs in the node's desired-state transaction (its row locked, so short ids are
 * allocated one at a time) and recompiles its `sdwan` section.
 */
import { EVENTS } from "@powernode/proto";
import { and, asc, eq, inArray, ne } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { hostBridges, networkMembers, networks } from "../db/schema/index.ts";
import type { Deps } from "../deps.ts";
import type { Tx } from "../desired-state/index.ts";
import { DomainError } from "../errors.ts";
import { sees } from "../network/peers.ts";
import { getInstance } from "../provision/instances.ts";
import { isUuid } from "../rpc/fields.ts";
import type { OvsPeer } from "./ovs-segment.ts";
import { type BridgeKind, bridgeName, defaultBridgeKind } from "./profile.ts";

export type BridgeRow = typeof hostBridges.$inferSelect;
type SdwanDeps = Pick<Deps, "db" | "events" | "desiredState">;

export interface Allocation {
  bridge: BridgeRow;
  created: boolean;
  readopted: boolean;
}

/** Allocates (or returns, or re-adopts) a bridge of `kind` (default: the node's profile's) on a node. */
export async function allocateHostBridge(
  deps: SdwanDeps,
  nodeId: string,
  kind?: BridgeKind,
): Promise<Allocation> {
  const node = await getInstance(deps, nodeId, "node_id");
  if (node.state === "deleted") throw new DomainError("precondition", `node_id: ${node.id} is deleted`);
  const want = kind ?? defaultBridgeKind(node.networkProfile);
  let out: Allocation | undefined;
  await deps.desiredState.change(node.id, async (tx) => {
    const rows = await bridgesOf(tx, node.id);
    const active = rows.find((r) => r.kind === want && r.state === "active");
    if (active) {
      out = { bridge: active, created: false, readopted: false };
      return;
    }
    const removed = rows.find((r) => r.kind === want && r.state === "removed");
    if (removed) {
      const [row] = await tx
        .update(hostBridges)
        .set({ state: "active", updatedAt: new Date() })
        .where(eq(hostBridges.id, removed.id))
        .returning();
      out = { bridge: row as BridgeRow, created: false, readopted: true };
      return;
    }
    const shortId = Math.max(0, ...rows.map((r) => r.shortId)) + 1;
    const [row] = await tx
      .insert(hostBridges)
      .values({ nodeId: node.id, shortId, name: bridgeName(shortId), kind: want })
      .returning();
    out = { bridge: row as BridgeRow, created: true, readopted: false };
  });
  if (!out) throw new Error(`allocating a bridge on ${node.id}: no row`);
  if (out.created || out.readopted)
    await deps.events.emit(
      EVENTS.sdwanHostBridgeAllocated,
      {
        bridge: out.bridge.name,
        kind: out.bridge.kind,
        shortId: out.bridge.shortId,
        readopted: out.readopted,
      },
      { nodeId: node.id },
    );
  if ((out.created || out.readopted) && out.bridge.kind === "ovs") await retunnelPeers(deps, node.id);
  return out;
}

/** Recompiles the nodes whose tunnels to `nodeId` change with its OVS bridges. */
async function retunnelPeers(deps: SdwanDeps, nodeId: string) {
  for (const peer of await ovsPeerNodes(deps.db, nodeId)) await deps.desiredState.change(peer);
}

/** One bridge by id. */
export async function getHostBridge(db: Db | Tx, id: string): Promise<BridgeRow> {
  const v = id.toLowerCase();
  if (!isUuid(v)) throw new DomainError("invalid_argument", "bridge_id: not a UUID");
  const [row] = await db.select().from(hostBridges).where(eq(hostBridges.id, v));
  if (!row) throw new DomainError("not_found", `bridge_id: no host bridge ${v}`);
  return row;
}

/** active -> draining (the agent takes it down). */
export const drainHostBridge = (deps: SdwanDeps, id: string) =>
  moveBridge(deps, id, "active", "draining", EVENTS.sdwanHostBridgeDraining);

/** draining -> removed (out of the desired state). */
export const removeHostBridge = (deps: SdwanDeps, id: string) =>
  moveBridge(deps, id, "draining", "removed", EVENTS.sdwanHostBridgeRemoved);

async function moveBridge(
  deps: SdwanDeps,
  id: string,
  from: BridgeRow["state"],
  to: BridgeRow["state"],
  event: (typeof EVENTS)[keyof typeof EVENTS],
): Promise<BridgeRow> {
  const b = await getHostBridge(deps.db, id);
  let row: BridgeRow | undefined;
  await deps.desiredState.change(b.nodeId, async (tx) => {
    const [now] = await tx.select().from(hostBridges).where(eq(hostBridges.id, b.id));
    if (now?.state === to) {
      row = now;
      return;
    }
    if (now?.state !== from)
      throw new DomainError(
        "precondition",
        `bridge_id: ${b.name} is ${now?.state ?? "gone"}; only a ${from} bridge can become ${to}`,
      );
    [row] = await tx
      .update(hostBridges)
      .set({ state: to, updatedAt: new Date() })
      .where(eq(hostBridges.id, b.id))
      .returning();
  });
  if (!row) throw new Error(`bridge ${b.id}: no row`);
  await deps.events.emit(event, { bridge: row.name, kind: row.kind }, { nodeId: row.nodeId });
  if (row.kind === "ovs" && from === "active") await retunnelPeers(deps, row.nodeId);
  return row;
}

/** A node's bridges, every state, by short id. */
export function bridgesOf(db: Db | Tx, nodeId: string): Promise<BridgeRow[]> {
  return db
    .select()
    .from(hostBridges)
    .where(eq(hostBridges.nodeId, nodeId))
    .orderBy(asc(hostBridges.shortId));
}

/** Nodes with an active OVS bridge (whose section an IPFIX change alters). */
export async function nodesWithOvsBridges(db: Db | Tx): Promise<string[]> {
  const rows = await db
    .selectDistinct({ nodeId: hostBridges.nodeId })
    .from(hostBridges)
    .where(and(eq(hostBridges.kind, "ovs"), eq(hostBridges.state, "active")));
  return rows.map((r) => r.nodeId);
}

/**
 * The nodes sharing an overlay network with `nodeId` that have an active OVS bridge: per (peer,
 * network), both overlay addresses and the peer's active OVS short ids (ovs-segment.ts picks one
 * network per peer).
 */
export async function ovsPeersOf(db: Db | Tx, nodeId: string): Promise<OvsPeer[]> {
  const mine = await db
    .select({
      networkId: networkMembers.networkId,
      address: networkMembers.address,
      hub: networkMembers.hub,
      topology: networks.topology,
    })
    .from(networkMembers)
    .innerJoin(networks, eq(networks.id, networkMembers.networkId))
    .where(eq(networkMembers.instanceId, nodeId));
  if (mine.length === 0) return [];
  const others = await db
    .select({
      nodeId: networkMembers.instanceId,
      networkId: networkMembers.networkId,
      address: networkMembers.address,
      hub: networkMembers.hub,
      shortId: hostBridges.shortId,
    })
    .from(networkMembers)
    .innerJoin(
      hostBridges,
      and(
        eq(hostBridges.nodeId, networkMembers.instanceId),
        eq(hostBridges.kind, "ovs"),
        eq(hostBridges.state, "active"),
      ),
    )
    .where(
      and(
        inArray(
          networkMembers.networkId,
          mine.map((m) => m.networkId),
        ),
        ne(networkMembers.instanceId, nodeId),
      ),
    );
  const local = new Map(mine.map((m) => [m.networkId, m]));
  const peers = new Map<string, OvsPeer & { ovsShortIds: number[] }>();
  for (const o of others) {
    const me = local.get(o.networkId);
    // Only where WireGuard carries it: in hub-and-spoke, spokes do not see spokes.
    if (!o.nodeId || !me || !sees(me, me, o)) continue;
    const key = `${o.nodeId}/${o.networkId}`;
    const p = peers.get(key) ?? {
      nodeId: o.nodeId,
      networkId: o.networkId,
      localIp: me.address,
      remoteIp: o.address,
      ovsShortIds: [],
    };
    p.ovsShortIds.push(o.shortId);
    peers.set(key, p);
  }
  return [...peers.values()];
}

/** Other nodes whose OVS tunnels change when `nodeId`'s OVS bridges do: its OVS peers. */
export async function ovsPeerNodes(db: Db | Tx, nodeId: string): Promise<string[]> {
  return [...new Set((await ovsPeersOf(db, nodeId)).map((p) => p.nodeId))];
}
