/** Applies one WatchMeshPeers message to a peer list (pure). */
import type { MeshPeer, WatchMeshPeersResponse } from "@powernode/proto";

export interface PeerList {
  version: bigint;
  peers: MeshPeer[];
}

/**
 * A snapshot replaces the list; a delta upserts by node id and removes; a keepalive (no peers, no
 * removals) leaves the list as it is. Messages at or below the held version (outside a snapshot) are
 * ignored. The result is sorted by node id, so equal lists compare equal.
 */
export function applyPeerUpdate(list: PeerList | undefined, msg: WatchMeshPeersResponse): PeerList {
  if (msg.snapshot) return { version: msg.version, peers: sortPeers(msg.upserts) };
  const held = list ?? { version: 0n, peers: [] };
  if (msg.version <= held.version || (msg.upserts.length === 0 && msg.removedNodeIds.length === 0))
    return { version: held.version > msg.version ? held.version : msg.version, peers: held.peers };
  const by = new Map(held.peers.map((p) => [p.nodeId, p]));
  for (const id of msg.removedNodeIds) by.delete(id);
  for (const p of msg.upserts) by.set(p.nodeId, p);
  return { version: msg.version, peers: sortPeers([...by.values()]) };
}

function sortPeers(peers: readonly MeshPeer[]): MeshPeer[] {
  return [...peers].sort((a, b) => (a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : 0));
}
