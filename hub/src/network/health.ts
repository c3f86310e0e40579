/**
 * Mesh health from what members report: per member, each peer it has with its handshake age; a peer
 * without a handshake for more than 275 s is down (WireGuard's 180 s rekey + 5 s + 90 s, as Talos and
 * Omni count it). The mesh is full when every member holds a credential and has every peer it should see up.
 */
import { and, eq } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { membershipCredentials } from "../db/schema/index.ts";
import { listMembers, type MemberRow, type NetworkRow } from "./networks.ts";
import { sees } from "./peers.ts";

export const PEER_DOWN_AFTER_SECONDS = 275;

export interface PeerHealth {
  nodeId: string;
  publicKey: string;
  endpoint: string;
  /** -1 = never. */
  handshakeAgeSeconds: number;
  rxBytes: number;
  txBytes: number;
  up: boolean;
}

export interface MemberHealth {
  nodeId: string;
  nodeName: string;
  address: string;
  expectedPeers: number;
  peers: PeerHealth[];
  reportedAt: Date | null;
  problem: string;
}

export async function meshHealth(
  db: Db,
  network: NetworkRow,
  now: Date,
): Promise<{ members: MemberHealth[]; fullMesh: boolean }> {
  const members = await listMembers(db, network.id);
  const active = new Set(
    (
      await db
        .select({ memberId: membershipCredentials.memberId })
        .from(membershipCredentials)
        .where(
          and(eq(membershipCredentials.networkId, network.id), eq(membershipCredentials.status, "active")),
        )
    ).map((r) => r.memberId),
  );
  const credentialed = members.filter((m) => m.publicKey && active.has(m.id));
  const byKey = new Map(members.flatMap((m) => (m.publicKey ? [[m.publicKey, m] as const] : [])));
  const nowS = Math.floor(now.getTime() / 1000);
  // Full only when every member holds a credential (a member that has not reported its key yet is a
  // peer nobody has) and every member has every peer it should see up.
  let full = credentialed.length > 0 && credentialed.length === members.length;
  const out = members.map((m): MemberHealth => {
    const expected = credentialed.filter((p) => p.id !== m.id && sees(network, m, p));
    const peers = m.observed.map((o): PeerHealth => {
      const age = o.latestHandshakeUnix > 0 ? Math.max(0, nowS - o.latestHandshakeUnix) : -1;
      return {
        nodeId: (() => {
          const m = byKey.get(o.publicKey);
          return m ? (m.instanceId ?? m.id) : o.nodeId;
        })(),
        publicKey: o.publicKey,
        endpoint: o.endpoint,
        handshakeAgeSeconds: age,
        rxBytes: o.rxBytes,
        txBytes: o.txBytes,
        up: age >= 0 && age <= PEER_DOWN_AFTER_SECONDS,
      };
    });
    if (active.has(m.id)) {
      const up = new Set(peers.filter((p) => p.up).map((p) => p.publicKey));
      if (!expected.every((p: MemberRow) => up.has(p.publicKey ?? ""))) full = false;
    }
    return {
      nodeId: m.instanceId ?? m.id,
      nodeName: m.nodeName,
      address: m.address,
      expectedPeers: expected.length,
      peers,
      reportedAt: m.observedAt,
      problem: m.problem ?? "",
    };
  });
  return { members: out, fullMesh: full };
}
