/**
 * Which streamed peers a node configures (pure): only those whose membership credential verifies
 * against the network's constellation key, inside its validity window, naming the peer's own key,
 * address and node; each rejected one with the reason.
 */
import { type MeshMembership, type MeshPeer, verifyCredential } from "@powernode/proto";

export interface WgPeerConfig {
  publicKey: string;
  allowedIps: string[];
  endpoint?: string;
  persistentKeepalive?: number;
}

export interface PeerDecision {
  accepted: Array<{ peer: MeshPeer; config: WgPeerConfig }>;
  rejected: Array<{ peer: MeshPeer; reason: string }>;
}

/**
 * `minRevision(nodeId)` is the highest revision already accepted for that peer (a replayed older
 * credential is refused).
 */
export function decidePeers(
  mesh: MeshMembership,
  peers: readonly MeshPeer[],
  now: Date,
  minRevision: (nodeId: string) => number | undefined = () => undefined,
): PeerDecision {
  const out: PeerDecision = { accepted: [], rejected: [] };
  for (const peer of peers) {
    if (!peer.credential) {
      out.rejected.push({ peer, reason: "no credential" });
      continue;
    }
    const min = minRevision(peer.nodeId);
    const v = verifyCredential(peer.credential, mesh.constellationPublicKey, {
      now,
      expect: {
        publicKey: peer.publicKey,
        address: peer.address,
        aud: `net-${mesh.handle}`,
        sub: peer.nodeId,
      },
      ...(min !== undefined ? { minRevision: min } : {}),
    });
    if (!v.ok) {
      out.rejected.push({ peer, reason: v.reason });
      continue;
    }
    out.accepted.push({
      peer,
      config: {
        publicKey: peer.publicKey,
        allowedIps: [...peer.allowedIps],
        ...(peer.endpoints[0] ? { endpoint: peer.endpoints[0] } : {}),
        ...(peer.persistentKeepaliveSeconds > 0
          ? { persistentKeepalive: peer.persistentKeepaliveSeconds }
          : {}),
      },
    });
  }
  return out;
}
