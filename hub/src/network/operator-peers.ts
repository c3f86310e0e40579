/**
 * Operator peers: an operator's machine (no agent) as a mesh member, so it reaches overlay addresses
 * (a managed Docker host's API, say). It brings its own WireGuard key; the hub allocates its /128,
 * signs its credential and puts it in every member's peer list. Its peers come back as a snapshot.
 */
import type { MessageInitShape } from "@bufbuild/protobuf";
import { EVENTS, type MeshMembershipSchema, MeshTopology } from "@powernode/proto";
import { and, eq } from "drizzle-orm";
import { networkMembers } from "../db/schema/index.ts";
import type { Deps } from "../deps.ts";
import { DomainError } from "../errors.ts";
import { interfaceName, memberAddress } from "./addresses.ts";
import { ensureFresh } from "./credentials.ts";
import { changeNetwork, type MemberRow, memberNodeId, type NetworkRow, resolveNetwork } from "./networks.ts";
import { type MeshPeerInit, peerChangeOf, snapshotFor } from "./peers.ts";

export interface OperatorPeerInput {
  network: string;
  name: string;
  publicKey: string;
  endpoints: string[];
}

export interface JoinedOperatorPeer {
  member: MemberRow;
  network: NetworkRow;
  membership: MessageInitShape<typeof MeshMembershipSchema>;
  peers: MeshPeerInit[];
}

/** Joins (or re-joins with a new key) an operator peer; returns its membership and current peers. */
export async function joinOperatorPeer(
  deps: Pick<Deps, "db" | "events" | "keys" | "now" | "cluster">,
  input: OperatorPeerInput,
): Promise<JoinedOperatorPeer> {
  const network0 = await resolveNetwork(deps.db, input.network);
  const { member, created } = await changeNetwork(deps, network0.id, async (tx, _network, within) => {
    const where = and(eq(networkMembers.networkId, network0.id), eq(networkMembers.operatorName, input.name));
    let [row] = await tx.select().from(networkMembers).where(where).for("update");
    const created = !row;
    if (!row) {
      const id = crypto.randomUUID();
      for (let attempt = 0; !row; attempt++) {
        if (attempt >= 16)
          throw new DomainError("resource_exhausted", `network: no free address in ${network0.prefix}`);
        [row] = await tx
          .insert(networkMembers)
          .values({
            id,
            networkId: network0.id,
            operatorName: input.name,
            address: memberAddress(network0.prefix, id, attempt),
            publicKey: input.publicKey,
            listenPort: 0,
            endpoints: input.endpoints,
          })
          .onConflictDoNothing({ target: [networkMembers.networkId, networkMembers.address] })
          .returning();
      }
    } else if (
      row.publicKey !== input.publicKey ||
      JSON.stringify(row.endpoints) !== JSON.stringify(input.endpoints)
    ) {
      [row] = await tx
        .update(networkMembers)
        .set({ publicKey: input.publicKey, endpoints: input.endpoints, updatedAt: new Date() })
        .where(eq(networkMembers.id, row.id))
        .returning();
    }
    if (!row) throw new Error(`operator peer ${input.name}: member row vanished`);
    const fresh = await ensureFresh(deps, row.id, { within });
    const change = fresh.issued ? await peerChangeOf(tx, row.id) : undefined;
    return { result: { member: row, created }, changes: change ? [change] : [] };
  });
  if (created)
    await deps.events.emit(EVENTS.networkMemberJoined, {
      networkId: network0.id,
      network: network0.name,
      address: member.address,
      operatorPeer: input.name,
    });
  const network = await resolveNetwork(deps.db, network0.id);
  return {
    member,
    network,
    membership: {
      networkId: network.id,
      handle: network.handle,
      interfaceName: interfaceName(network.handle),
      address: member.address,
      prefix: network.prefix,
      listenPort: 0,
      topology: network.topology === "hub_and_spoke" ? MeshTopology.HUB_AND_SPOKE : MeshTopology.FULL_MESH,
      hub: false,
      constellationPublicKey: network.signingPublicKey,
      constellationHandle: network.constellationHandle,
      mtu: network.mtu,
    },
    peers: await snapshotFor(deps.db, network, member),
  };
}

/** Removes an operator peer: every member drops it. */
export async function leaveOperatorPeer(
  deps: Pick<Deps, "db" | "events" | "cluster">,
  input: { network: string; name: string },
): Promise<void> {
  const network = await resolveNetwork(deps.db, input.network);
  const removed = await changeNetwork(deps, network.id, async (tx) => {
    const [r] = await tx
      .delete(networkMembers)
      .where(and(eq(networkMembers.networkId, network.id), eq(networkMembers.operatorName, input.name)))
      .returning();
    return {
      result: r,
      changes: r ? [{ kind: "remove" as const, nodeId: memberNodeId(r), hub: r.hub }] : [],
    };
  });
  if (!removed) throw new DomainError("not_found", `name: no operator peer ${input.name} in ${network.name}`);
  await deps.events.emit(EVENTS.networkMemberLeft, {
    networkId: network.id,
    network: network.name,
    operatorPeer: input.name,
  });
}
