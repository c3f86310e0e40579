/**
 * VRFs (one per node and network: `vrf-<network handle>`, a routing table of its own) and route leaks
 * between networks. Allocation is idempotent and runs under the node's desired-state lock, so two
 * networks never get one table; a VRF change recompiles the node and the network's other VRF members
 * (their BGP neighbours change), a leak every node with a VRF in its target network.
 */
import { isIP } from "node:net";
import { EVENTS } from "@powernode/proto";
import { and, asc, eq, inArray } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { networkMembers, networks, routeLeaks, vrfs } from "../db/schema/index.ts";
import type { Deps } from "../deps.ts";
import type { Tx } from "../desired-state/index.ts";
import { DomainError } from "../errors.ts";
import { interfaceName } from "../network/addresses.ts";
import { changeNetwork, resolveNetwork } from "../network/networks.ts";
import { peerChangeOf } from "../network/peers.ts";
import { getInstance } from "../provision/instances.ts";
import { isUuid } from "../rpc/fields.ts";
import { derivedAsn, type FrrLeak, type FrrVrf, PRIVATE_ASN_MAX } from "./frr.ts";

export type VrfRow = typeof vrfs.$inferSelect;
export type LeakRow = typeof routeLeaks.$inferSelect;
type SdwanDeps = Pick<Deps, "db" | "events" | "desiredState" | "cluster">;

/** The first table a VRF gets; tables 0, 253, 254 and 255 are the kernel's and never handed out. */
export const FIRST_VRF_TABLE = 1000;
export const RESERVED_TABLES: ReadonlySet<number> = new Set([0, 253, 254, 255]);

/** `vrf-<network handle>`: 10 bytes. */
export const vrfNameOf = (handle: string) => `vrf-${handle}`;

/** The lowest table id from FIRST_VRF_TABLE not in `taken` (and never a reserved one). */
export function nextTable(taken: readonly number[]): number {
  const used = new Set(taken);
  let t = FIRST_VRF_TABLE;
  while (used.has(t) || RESERVED_TABLES.has(t)) t++;
  return t;
}

export async function allocateVrf(
  deps: SdwanDeps,
  nodeId: string,
  networkRef: string,
): Promise<{ vrf: VrfRow; created: boolean }> {
  const node = await getInstance(deps, nodeId, "node_id");
  const network = await resolveNetwork(deps.db, networkRef);
  let out: { vrf: VrfRow; created: boolean } | undefined;
  await deps.desiredState.change(node.id, async (tx) => {
    const [member] = await tx
      .select()
      .from(networkMembers)
      .where(and(eq(networkMembers.networkId, network.id), eq(networkMembers.instanceId, node.id)));
    if (!member)
      throw new DomainError("precondition", `node_id: ${node.id} is not a member of network ${network.name}`);
    const mine = await tx.select().from(vrfs).where(eq(vrfs.nodeId, node.id));
    const have = mine.find((v) => v.networkId === network.id);
    if (have) {
      out = { vrf: have, created: false };
      return;
    }
    const [row] = await tx
      .insert(vrfs)
      .values({
        nodeId: node.id,
        networkId: network.id,
        vrfName: vrfNameOf(network.handle),
        tableId: nextTable(mine.map((v) => v.tableId)),
      })
      .returning();
    out = { vrf: row as VrfRow, created: true };
  });
  if (!out) throw new Error(`allocating a VRF on ${node.id}: no row`);
  if (out.created) {
    await deps.events.emit(
      EVENTS.sdwanVrfAllocated,
      { vrf: out.vrf.vrfName, table: out.vrf.tableId, network: network.name },
      { nodeId: node.id },
    );
    await recompileNetwork(deps, network.id, node.id);
    // Its router address is now routed to it: every peer's allowed-ips for it change.
    await changeNetwork(deps, network.id, async (tx) => {
      const [member] = await tx
        .select({ id: networkMembers.id })
        .from(networkMembers)
        .where(and(eq(networkMembers.networkId, network.id), eq(networkMembers.instanceId, node.id)));
      const change = member ? await peerChangeOf(tx, member.id) : undefined;
      return { result: undefined, changes: change ? [change] : [] };
    });
  }
  return out;
}

export const vrfsOf = (db: Db | Tx, nodeId: string): Promise<VrfRow[]> =>
  db.select().from(vrfs).where(eq(vrfs.nodeId, nodeId)).orderBy(asc(vrfs.tableId));

/** Sets a network's AS number (0: derived again); recompiles its VRF members. */
export async function setNetworkBgpAsn(deps: SdwanDeps, networkRef: string, asn: number) {
  const network = await resolveNetwork(deps.db, networkRef);
  if (!Number.isInteger(asn) || asn < 0 || asn > PRIVATE_ASN_MAX)
    throw new DomainError("invalid_argument", `asn: ${asn} is not 1 to ${PRIVATE_ASN_MAX} (0: derived)`);
  await deps.db
    .update(networks)
    .set({ bgpAsn: asn === 0 ? null : asn, updatedAt: new Date() })
    .where(eq(networks.id, network.id));
  await recompileNetwork(deps, network.id);
  return { asn: asn === 0 ? derivedAsn(network.id) : asn, derived: asn === 0 };
}

const CIDR6_RE = /^([0-9a-fA-F:]+)\/(\d{1,3})$/;

export async function createRouteLeak(deps: SdwanDeps, fromRef: string, toRef: string, prefix: string) {
  const from = await resolveNetwork(deps.db, fromRef, "from_network");
  const to = await resolveNetwork(deps.db, toRef, "to_network");
  if (from.id === to.id)
    throw new DomainError("invalid_argument", "to_network: the same network as from_network");
  const m = CIDR6_RE.exec(prefix);
  if (!m || isIP(m[1] as string) !== 6 || Number(m[2]) > 128)
    throw new DomainError(
      "invalid_argument",
      `prefix: "${prefix.slice(0, 60)}" is not an IPv6 prefix (addr/len)`,
    );
  const [row] = await deps.db
    .insert(routeLeaks)
    .values({ fromNetworkId: from.id, toNetworkId: to.id, prefix: prefix.toLowerCase() })
    .returning();
  if (!row) throw new Error("route leak: no row");
  await deps.events.emit(EVENTS.sdwanRouteLeakCreated, { from: from.name, to: to.name, prefix: row.prefix });
  await recompileNetwork(deps, to.id);
  return row;
}

export async function revokeRouteLeak(deps: SdwanDeps, id: string): Promise<LeakRow> {
  const v = id.toLowerCase();
  if (!isUuid(v)) throw new DomainError("invalid_argument", "leak_id: not a UUID");
  const [row] = await deps.db
    .update(routeLeaks)
    .set({ state: "revoked", updatedAt: new Date() })
    .where(eq(routeLeaks.id, v))
    .returning();
  if (!row) throw new DomainError("not_found", `leak_id: no route leak ${v}`);
  await deps.events.emit(EVENTS.sdwanRouteLeakRevoked, { prefix: row.prefix });
  await recompileNetwork(deps, row.toNetworkId);
  return row;
}

export const listRouteLeaks = (db: Db | Tx): Promise<LeakRow[]> =>
  db.select().from(routeLeaks).orderBy(asc(routeLeaks.createdAt));

/** Recompiles every node with a VRF in `networkId` (but `except`, already recompiled). */
async function recompileNetwork(deps: SdwanDeps, networkId: string, except?: string) {
  const rows = await deps.db.select({ nodeId: vrfs.nodeId }).from(vrfs).where(eq(vrfs.networkId, networkId));
  for (const r of rows) if (r.nodeId !== except) await deps.desiredState.change(r.nodeId);
}

/** What the section compiler needs for a node's VRFs: FRR's view and the leaks that concern them. */
export async function frrInputsFor(
  tx: Db | Tx,
  nodeId: string,
): Promise<{
  vrfs: (FrrVrf & { id: string; networkId: string; tableId: number; interfaceName: string })[];
  leaks: FrrLeak[];
}> {
  const mine = await vrfsOf(tx, nodeId);
  if (mine.length === 0) return { vrfs: [], leaks: [] };
  const ids = mine.map((v) => v.networkId);
  const nets = await tx.select().from(networks).where(inArray(networks.id, ids));
  const peers = await tx
    .select({ networkId: vrfs.networkId, nodeId: vrfs.nodeId, address: networkMembers.address })
    .from(vrfs)
    .innerJoin(
      networkMembers,
      and(eq(networkMembers.networkId, vrfs.networkId), eq(networkMembers.instanceId, vrfs.nodeId)),
    )
    .where(inArray(vrfs.networkId, ids));
  const out = mine.flatMap((v) => {
    const n = nets.find((x) => x.id === v.networkId);
    if (!n) return [];
    return [
      {
        id: v.id,
        networkId: n.id,
        networkName: n.name,
        vrfName: v.vrfName,
        tableId: v.tableId,
        interfaceName: interfaceName(n.handle),
        asn: n.bgpAsn ?? derivedAsn(n.id),
        neighbors: peers.filter((p) => p.networkId === n.id && p.nodeId !== nodeId).map((p) => p.address),
      },
    ];
  });
  const vrfOfNetwork = new Map(out.map((v) => [v.networkId, v.vrfName]));
  const leaks = (
    await tx
      .select()
      .from(routeLeaks)
      .where(and(inArray(routeLeaks.toNetworkId, ids), eq(routeLeaks.state, "active")))
  ).flatMap((l) => {
    const fromVrf = vrfOfNetwork.get(l.fromNetworkId);
    const toVrf = vrfOfNetwork.get(l.toNetworkId);
    return fromVrf && toVrf ? [{ fromVrf, toVrf, prefix: l.prefix }] : [];
  });
  return { vrfs: out, leaks };
}
