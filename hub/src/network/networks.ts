/**
 * Networks and their members: create/list/delete a network (with its constellation key), join a node
 * (a stable /128 out of the network's /64, the network put in the node's desired state) and leave.
 * Every change that reaches members' peer lists bumps the network's version under its row lock and is
 * published on the peer bus after commit (peers.ts).
 */
import { EVENTS } from "@powernode/proto";
import { and, asc, count, eq, ne, sql } from "drizzle-orm";
import { networkKeyContext } from "../ca/stored-keys.ts";
import type { Db } from "../db/client.ts";
import { hostBridges, instances, networkMembers, networks } from "../db/schema/index.ts";
import type { Deps } from "../deps.ts";
import type { Tx } from "../desired-state/index.ts";
import { DomainError } from "../errors.ts";
import { isUuid } from "../rpc/fields.ts";
import { memberAddress, networkHandle, parseUlaPrefix, randomUlaPrefix } from "./addresses.ts";
import { createConstellationKey } from "./constellation.ts";
import type { InTransaction } from "./credentials.ts";
import { type PeerChange, peerBusOf } from "./peer-bus.ts";

export type NetworkRow = typeof networks.$inferSelect;
export type MemberRow = typeof networkMembers.$inferSelect;
export type Topology = NetworkRow["topology"];

/** A member's id in peer lists and credentials: its node's id, or for an operator peer the member id. */
export const memberNodeId = (m: Pick<MemberRow, "id" | "instanceId">): string => m.instanceId ?? m.id;

/** WireGuard's usual port: the first network's. */
export const FIRST_LISTEN_PORT = 51820;

/**
 * The lowest port from FIRST_LISTEN_PORT no network uses: a node in several networks has one
 * interface, and so one UDP port, per network.
 */
export function freeListenPort(taken: readonly number[]): number {
  const used = new Set(taken);
  let p = FIRST_LISTEN_PORT;
  while (used.has(p)) p++;
  return p;
}

export interface CreateNetworkInput {
  name: string;
  prefix?: string;
  topology?: Topology;
  listenPort?: number;
  mtu?: number;
}

/**
 * Creates a network with a fresh constellation key (stored sealed, `deps.keys`); an empty prefix picks
 * a random ULA /64, no port the lowest one free (freeListenPort).
 */
export async function createNetwork(
  deps: Pick<Deps, "db" | "events" | "keys">,
  input: CreateNetworkInput,
): Promise<NetworkRow> {
  let prefix = randomUlaPrefix();
  if (input.prefix) {
    const p = parseUlaPrefix(input.prefix);
    if ("error" in p) throw new DomainError("invalid_argument", `prefix: ${p.error}`);
    prefix = p.prefix;
  }
  const key = createConstellationKey();
  const id = crypto.randomUUID();
  const row = await deps.db.transaction(async (tx) => {
    const [dup] = await tx.select({ id: networks.id }).from(networks).where(eq(networks.name, input.name));
    if (dup) throw new DomainError("already_exists", `name: a network "${input.name}" exists`);
    const ports = (await tx.select({ port: networks.listenPort }).from(networks)).map((n) => n.port);
    const [r] = await tx
      .insert(networks)
      .values({
        id,
        name: input.name,
        handle: networkHandle(id),
        prefix,
        topology: input.topology ?? "full_mesh",
        listenPort: input.listenPort ?? freeListenPort(ports),
        mtu: input.mtu ?? 1420,
        ...key,
        signingKeyPem: deps.keys.seal(key.signingKeyPem, networkKeyContext(id)),
      })
      .returning();
    return r as NetworkRow;
  });
  await deps.events.emit(EVENTS.networkCreated, {
    networkId: row.id,
    name: row.name,
    handle: row.handle,
    prefix: row.prefix,
    topology: row.topology,
  });
  return row;
}

/** A network by id or name, or not_found naming the field. */
export async function resolveNetwork(db: Db | Tx, ref: string, field = "network"): Promise<NetworkRow> {
  if (ref === "") throw new DomainError("invalid_argument", `${field}: required (an id or a name)`);
  const where = isUuid(ref.toLowerCase()) ? eq(networks.id, ref.toLowerCase()) : eq(networks.name, ref);
  const [row] = await db.select().from(networks).where(where);
  if (!row) throw new DomainError("not_found", `${field}: no network "${ref}"`);
  return row;
}

export async function listNetworks(db: Db): Promise<Array<NetworkRow & { memberCount: number }>> {
  const rows = await db.select().from(networks).orderBy(asc(networks.name));
  const counts = await db
    .select({ networkId: networkMembers.networkId, n: count() })
    .from(networkMembers)
    .groupBy(networkMembers.networkId);
  const by = new Map(counts.map((c) => [c.networkId, Number(c.n)]));
  return rows.map((r) => ({ ...r, memberCount: by.get(r.id) ?? 0 }));
}

export async function listMembers(
  db: Db | Tx,
  networkId: string,
): Promise<Array<MemberRow & { nodeName: string }>> {
  const rows = await db
    .select({ m: networkMembers, nodeName: instances.name })
    .from(networkMembers)
    .leftJoin(instances, eq(instances.id, networkMembers.instanceId))
    .where(eq(networkMembers.networkId, networkId))
    .orderBy(asc(networkMembers.createdAt));
  return rows.map((r) => ({ ...r.m, nodeName: r.nodeName ?? r.m.operatorName ?? "" }));
}

/**
 * Runs `fn` in a transaction holding the network's row lock, then bumps its version when `fn` returns
 * changes, and publishes them after commit. The lock orders every change of one network, so versions
 * are gap-free and a stream's snapshot + deltas never miss one.
 */
export async function changeNetwork<T>(
  deps: Pick<Deps, "db" | "events" | "cluster">,
  networkId: string,
  fn: (tx: Tx, network: NetworkRow, within: InTransaction) => Promise<{ result: T; changes: PeerChange[] }>,
): Promise<T> {
  const written: InTransaction["written"] = [];
  const out = await deps.db.transaction(async (tx) => {
    const [network] = await tx.select().from(networks).where(eq(networks.id, networkId)).for("update");
    if (!network) throw new DomainError("not_found", `network: no network ${networkId}`);
    const { result, changes } = await fn(tx, network, { tx, written });
    let version = network.version;
    if (changes.length > 0) {
      version += 1;
      await tx.update(networks).set({ version, updatedAt: new Date() }).where(eq(networks.id, networkId));
      // Other hub processes resend snapshots to their streams of this network at commit.
      await deps.cluster.notify(tx, { k: "network", id: networkId, version });
    }
    return { result, changes, version, network };
  });
  deps.events.publish(written);
  if (out.changes.length > 0)
    peerBusOf(deps).publish({ network: { ...out.network, version: out.version }, changes: out.changes });
  return out.result;
}

/** Makes a node a member (idempotent: an existing member is returned as it is). */
export async function joinNetwork(
  deps: Pick<Deps, "db" | "events" | "desiredState" | "cluster">,
  input: { network: string; nodeId: string; hub?: boolean },
): Promise<MemberRow> {
  const network = await resolveNetwork(deps.db, input.network);
  const [node] = await deps.db
    .select({ id: instances.id, state: instances.state })
    .from(instances)
    .where(eq(instances.id, input.nodeId));
  if (!node || node.state === "deleted")
    throw new DomainError("not_found", `node_id: no node ${input.nodeId}`);
  const { member, created } = await changeNetwork(deps, network.id, async (tx) => {
    const [existing] = await tx
      .select()
      .from(networkMembers)
      .where(and(eq(networkMembers.networkId, network.id), eq(networkMembers.instanceId, input.nodeId)));
    if (existing) return { result: { member: existing, created: false }, changes: [] };
    // The address is the node's hash in the prefix; on the (rare) collision the unique index refuses it
    // and the next attempt draws again. No read of the other members: O(1) per join.
    let row: MemberRow | undefined;
    for (let attempt = 0; !row; attempt++) {
      if (attempt >= 16)
        throw new DomainError("resource_exhausted", `network: no free address in ${network.prefix}`);
      [row] = await tx
        .insert(networkMembers)
        .values({
          networkId: network.id,
          instanceId: input.nodeId,
          address: memberAddress(network.prefix, input.nodeId, attempt),
          hub: input.hub ?? false,
        })
        .onConflictDoNothing({ target: [networkMembers.networkId, networkMembers.address] })
        .returning();
    }
    // No peer change yet: a member appears in peer lists once it has a key and a credential.
    return { result: { member: row, created: true }, changes: [] };
  });
  if (created) {
    await deps.desiredState.change(input.nodeId);
    await retunnel(deps, network.id, input.nodeId);
    await deps.events.emit(
      EVENTS.networkMemberJoined,
      { networkId: network.id, network: network.name, address: member.address, hub: member.hub },
      { nodeId: input.nodeId },
    );
  }
  return member;
}

/** Removes a node from a network: its peers drop it, its interface goes at its next desired state. */
export async function leaveNetwork(
  deps: Pick<Deps, "db" | "events" | "desiredState" | "cluster">,
  input: {
    network: string;
    nodeId: string /** The node was deleted: no desired state of its own to recompile. */;
    nodeGone?: boolean;
  },
): Promise<void> {
  const network = await resolveNetwork(deps.db, input.network);
  const removed = await changeNetwork(deps, network.id, async (tx) => {
    const rows = await tx
      .delete(networkMembers)
      .where(and(eq(networkMembers.networkId, network.id), eq(networkMembers.instanceId, input.nodeId)))
      .returning();
    const r = rows[0];
    return {
      result: r,
      changes: r ? [{ kind: "remove" as const, nodeId: memberNodeId(r), hub: r.hub }] : [],
    };
  });
  if (!removed)
    throw new DomainError("not_found", `node_id: ${input.nodeId} is not a member of ${network.name}`);
  if (!input.nodeGone) await deps.desiredState.change(input.nodeId);
  await retunnel(deps, network.id, input.nodeId);
  await deps.events.emit(
    EVENTS.networkMemberLeft,
    { networkId: network.id, network: network.name },
    { nodeId: input.nodeId },
  );
}

/** Deletes a network and every membership; each member's desired state loses it. */
export async function deleteNetwork(
  deps: Pick<Deps, "db" | "events" | "desiredState" | "cluster">,
  ref: string,
): Promise<void> {
  const network = await resolveNetwork(deps.db, ref);
  const members = await deps.db
    .select({ id: networkMembers.instanceId })
    .from(networkMembers)
    .where(eq(networkMembers.networkId, network.id));
  await deps.db.delete(networks).where(eq(networks.id, network.id));
  peerBusOf(deps).close(network.id);
  for (const m of members) if (m.id) await deps.desiredState.change(m.id);
  await deps.events.emit(EVENTS.networkDeleted, {
    networkId: network.id,
    name: network.name,
    members: members.length,
  });
}

/** The networks a node is a member of (for its desired state's network section). */
export async function membershipsOf(
  tx: Db | Tx,
  nodeId: string,
): Promise<Array<{ network: NetworkRow; member: MemberRow }>> {
  const rows = await tx
    .select({ network: networks, member: networkMembers })
    .from(networkMembers)
    .innerJoin(networks, eq(networks.id, networkMembers.networkId))
    .where(eq(networkMembers.instanceId, nodeId))
    .orderBy(asc(networks.name));
  return rows;
}

/** Sets a member's reported key/port/endpoints; true when one of them changed. */
export async function setMemberKey(
  tx: Tx,
  member: MemberRow,
  report: { publicKey: string; listenPort: number; endpoints: string[] },
): Promise<boolean> {
  const same =
    member.publicKey === report.publicKey &&
    member.listenPort === report.listenPort &&
    JSON.stringify(member.endpoints) === JSON.stringify(report.endpoints);
  if (same) return false;
  await tx
    .update(networkMembers)
    .set({ ...report, updatedAt: sql`now()` })
    .where(eq(networkMembers.id, member.id));
  return true;
}

/**
 * After `nodeId` joined or left a network: when it has an active OVS bridge, the network's other
 * members with one are recompiled (their VXLAN tunnels to it come or go, decision 0037).
 */
async function retunnel(deps: Pick<Deps, "db" | "desiredState">, networkId: string, nodeId: string) {
  const ovs = and(eq(hostBridges.kind, "ovs"), eq(hostBridges.state, "active"));
  const [mine] = await deps.db
    .select({ id: hostBridges.id })
    .from(hostBridges)
    .where(and(ovs, eq(hostBridges.nodeId, nodeId)))
    .limit(1);
  if (!mine) return;
  const others = await deps.db
    .selectDistinct({ nodeId: networkMembers.instanceId })
    .from(networkMembers)
    .innerJoin(hostBridges, and(ovs, eq(hostBridges.nodeId, networkMembers.instanceId)))
    .where(and(eq(networkMembers.networkId, networkId), ne(networkMembers.instanceId, nodeId)));
  for (const o of others) if (o.nodeId) await deps.desiredState.change(o.nodeId);
}
