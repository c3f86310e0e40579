/**
 * What one member sees of another: the MeshPeer entry (key, /128, endpoints, credential), who sees whom
 * by the network's topology, and the snapshot a WatchMeshPeers stream starts with. A member is a peer
 * only once it has reported a key and holds an active credential.
 */
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { MeshPeerSchema } from "@powernode/proto";
import { and, eq, isNotNull } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { membershipCredentials, networkMembers, networkVips } from "../db/schema/index.ts";
import type { Tx } from "../desired-state/index.ts";
import { activeCredential, toWire } from "./credentials.ts";
import { type MemberRow, memberNodeId, type NetworkRow } from "./networks.ts";
import type { PeerChange } from "./peer-bus.ts";

/** WireGuard keepalive for every peer (Talos KubeSpan's and the predecessor's value). */
export const PERSISTENT_KEEPALIVE_SECONDS = 25;

type CredentialRow = typeof membershipCredentials.$inferSelect;
export type MeshPeerInit = MessageInitShape<typeof MeshPeerSchema>;

/**
 * The entry other members get for `member`: its /128 and the VIPs it holds as primary (`vips`, addresses
 * without a length), so packets to a VIP go to its holder.
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

/** The change peers get after `memberId` changed: an upsert with its credential, or a removal without one. */
export async function peerChangeOf(tx: Db | Tx, memberId: string): Promise<PeerChange | undefined> {
  const [member] = await tx.select().from(networkMembers).where(eq(networkMembers.id, memberId));
  if (!member) return undefined;
  const credential = member.publicKey ? await activeCredential(tx as Db, member.id) : undefined;
  const vips = (await vipsByPrimary(tx, member.networkId)).get(member.id) ?? [];
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
  const vips = await vipsByPrimary(tx, network.id);
  return rows
    .filter((r) => memberNodeId(r.m) !== memberNodeId(receiver) && sees(network, receiver, r.m))
    .map((r) => peerEntry(r.m, r.c, vips.get(r.m.id)));
}
