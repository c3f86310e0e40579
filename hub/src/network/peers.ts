/**
 * What one member sees of another: the MeshPeer entry (key, /128, endpoints, credential), who sees whom
 * by the network's topology, and the snapshot a WatchMeshPeers stream starts with. A member is a peer
 * only once it has reported a key and holds an active credential.
 */
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { MeshPeerSchema } from "@powernode/proto";
import { and, eq, isNotNull } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { membershipCredentials, networkMembers, networkVips, vrfs } from "../db/schema/index.ts";
import type { Tx } from "../desired-state/index.ts";
import { activeCredential, toWire } from "./credentials.ts";
import { type MemberRow, memberNodeId, type NetworkRow } from "./networks.ts";
import type { PeerChange } from "./peer-bus.ts";
import { routerAddress } from "./router-address.ts";

/** WireGuard keepalive for every peer (Talos KubeSpan's and the predecessor's value). */
export const PERSISTENT_KEEPALIVE_SECONDS = 25;

type CredentialRow = typeof membershipCredentials.$inferSelect;
export type MeshPeerInit = MessageInitShape<typeof MeshPeerSchema>;

/**
 * The entry other members get for `member`: its /128 and the other addresses routed to it (`vips`,
 * without a length: the VIPs it holds as primary and its router address when it has a VRF in the
 * network, routedByMember), so packets to them go to it.
 */
export function peerEntry(
  member: MemberRow,
  credential: CredentialRow,
  vips: readonly string[] = [],
): MeshPeerInit {
  return {
    nodeId: memberNodeId(member),
    publicKey: member.publicKey ?? "",
    address: member.address,
    allowedIps: [`${member.address}/128`, ...[...vips].sort().map((v) => `${v}/128`)],
    endpoints: member.endpoints,
    persistentKeepaliveSeconds: PERSISTENT_KEEPALIVE_SECONDS,
    credential: toWire(credential),
  };
}

/** Whether a receiver sees a peer: everyone in a full mesh; in hub-and-spoke, hubs see all, spokes see hubs. */
export function sees(
  network: Pick<NetworkRow, "topology">,
  receiver: { hub: boolean },
  peer: { hub: boolean },
): boolean {
  return network.topology === "full_mesh" || receiver.hub || peer.hub;
}

/** Per member id: the addresses of the network's active VIPs it holds as primary (first holder). */
export async function vipsByPrimary(tx: Db | Tx, networkId: string): Promise<Map<string, string[]>> {
  const rows = await tx
    .select({ address: networkVips.address, holders: networkVips.holderMemberIds })
    .from(networkVips)
    .where(and(eq(networkVips.networkId, networkId), eq(networkVips.state, "active")));
  const out = new Map<string, string[]>();
  for (const r of rows) {
    const primary = r.holders[0];
    if (primary) out.set(primary, [...(out.get(primary) ?? []), r.address]);
  }
  return out;
}

/**
 * Per member id: every address besides its own routed to it over the network, sorted: the VIPs it
 * holds as primary, and the router address of its VRF in the network (BGP announces it; without it in
 * allowed-ips WireGuard would drop what is sent to it).
 */
export async function routedByMember(tx: Db | Tx, networkId: string): Promise<Map<string, string[]>> {
  const out = await vipsByPrimary(tx, networkId);
  const rows = await tx
    .select({ memberId: networkMembers.id, nodeId: vrfs.nodeId })
    .from(vrfs)
    .innerJoin(
      networkMembers,
      and(eq(networkMembers.networkId, vrfs.networkId), eq(networkMembers.instanceId, vrfs.nodeId)),
    )
    .where(eq(vrfs.networkId, networkId));
  for (const r of rows)
    out.set(r.memberId, [...(out.get(r.memberId) ?? []), routerAddress(networkId, r.nodeId)]);
  for (const [k, v] of out) out.set(k, [...new Set(v)].sort());
  return out;
}

/** The change peers get after `memberId` changed: an upsert with its credential, or a removal without one. */
export async function peerChangeOf(tx: Db | Tx, memberId: string): Promise<PeerChange | undefined> {
  const [member] = await tx.select().from(networkMembers).where(eq(networkMembers.id, memberId));
  if (!member) return undefined;
  const credential = member.publicKey ? await activeCredential(tx as Db, member.id) : undefined;
  const vips = (await routedByMember(tx, member.networkId)).get(member.id) ?? [];
  return credential
    ? {
        kind: "upsert",
        nodeId: memberNodeId(member),
        hub: member.hub,
        peer: peerEntry(member, credential, vips),
      }
    : { kind: "remove", nodeId: memberNodeId(member), hub: member.hub };
}

/** Every peer `receiver` sees, for the start of its stream. */
export async function snapshotFor(
  tx: Db | Tx,
  network: NetworkRow,
  receiver: MemberRow,
): Promise<MeshPeerInit[]> {
  const rows = await tx
    .select({ m: networkMembers, c: membershipCredentials })
    .from(networkMembers)
    .innerJoin(
      membershipCredentials,
      and(eq(membershipCredentials.memberId, networkMembers.id), eq(membershipCredentials.status, "active")),
    )
    .where(and(eq(networkMembers.networkId, network.id), isNotNull(networkMembers.publicKey)));
  const vips = await routedByMember(tx, network.id);
  return rows
    .filter((r) => memberNodeId(r.m) !== memberNodeId(receiver) && sees(network, receiver, r.m))
    .map((r) => peerEntry(r.m, r.c, vips.get(r.m.id)));
}
