/**
 * Whether a VIP holder is alive, and what the `vip failover` job does about a VIP: pure functions over
 * what the hub knows (heartbeats, the handshakes members report of their peers), so the decision is
 * tested without a database. A holder is lost when its node has not heartbeated for the threshold AND
 * no other member reports a WireGuard handshake with it newer than the threshold: the hub losing a
 * node's heartbeats while its peers still talk to it is not a reason to move its address.
 */

/** What the decision needs of one holder. */
export interface HolderState {
  memberId: string;
  /** The member's node id (an operator peer's member id); null when the member has left. */
  nodeId: string | null;
  /** WireGuard public key; null before the member reported one, or when it has left. */
  publicKey: string | null;
  /** Its node's last heartbeat; null when it never sent one (or has no node). */
  lastHeartbeatAt: Date | null;
}

/** What a member reports of its peers (network_members.observed). */
export interface ObservingMember {
  publicKey: string | null;
  observed: ReadonlyArray<{ publicKey: string; latestHandshakeUnix: number }>;
}

/** Per public key: the latest handshake (unix seconds) another member reported with it. */
export function latestHandshakes(members: readonly ObservingMember[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of members)
    for (const o of m.observed) {
      if (o.publicKey === m.publicKey || !(o.latestHandshakeUnix > 0)) continue;
      out.set(o.publicKey, Math.max(out.get(o.publicKey) ?? 0, o.latestHandshakeUnix));
    }
  return out;
}

export interface LivenessInput {
  /** Per public key, from {@link latestHandshakes}. */
  handshakes: ReadonlyMap<string, number>;
  now: Date;
  thresholdSeconds: number;
}

/** A heartbeat or a peer's handshake less than `thresholdSeconds` old. */
export function isHolderAlive(h: HolderState, { handshakes, now, thresholdSeconds }: LivenessInput): boolean {
  if (h.nodeId === null) return false;
  const cutoffMs = now.getTime() - thresholdSeconds * 1000;
  if (h.lastHeartbeatAt && h.lastHeartbeatAt.getTime() > cutoffMs) return true;
  const handshake = h.publicKey ? handshakes.get(h.publicKey) : undefined;
  return handshake !== undefined && handshake * 1000 > cutoffMs;
}

/** The first holder after the primary that is alive: where a failover without a target goes. */
export function firstLiveCandidate<H extends HolderState>(
  holders: readonly H[],
  input: LivenessInput,
): H | undefined {
  return holders.slice(1).find((h) => isHolderAlive(h, input));
}

/** What to do about one VIP. */
export type FailoverDecision =
  /** Nothing: the primary is alive, or there is no failover list to move to. */
  | { action: "keep"; why: "primary_alive" | "no_candidates" | "no_holders" }
  /** The primary is lost and no candidate is alive: the VIP stays where it is (and is unreachable). */
  | { action: "stranded"; from: string }
  /** Move the primary `from` -> `to` (reason sensor_failover). */
  | { action: "failover"; from: string; to: string };

/** The job's decision for a VIP whose holders are `holders` (primary first). */
export function decideFailover(holders: readonly HolderState[], input: LivenessInput): FailoverDecision {
  const primary = holders[0];
  if (!primary) return { action: "keep", why: "no_holders" };
  if (isHolderAlive(primary, input)) return { action: "keep", why: "primary_alive" };
  if (holders.length < 2) return { action: "keep", why: "no_candidates" };
  const to = firstLiveCandidate(holders, input);
  return to
    ? { action: "failover", from: primary.memberId, to: to.memberId }
    : { action: "stranded", from: primary.memberId };
}
