/**
 * Republishing members' peer entries after a change made outside a network change: a VIP created,
 * moved or deleted inside another feature's transaction (a K3s cluster's API VIP). Every peer's
 * AllowedIPs follow at once, instead of at its stream's next snapshot. A member that is gone is
 * skipped.
 */
import type { Deps } from "../deps.ts";
import { changeNetwork } from "./networks.ts";
import type { PeerChange } from "./peer-bus.ts";
import { peerChangeOf } from "./peers.ts";

export async function republishMembers(
  deps: Pick<Deps, "db" | "events" | "cluster">,
  networkId: string,
  memberIds: readonly string[],
): Promise<void> {
  if (memberIds.length === 0) return;
  await changeNetwork(deps, networkId, async (tx) => {
    const changes: PeerChange[] = [];
    for (const id of new Set(memberIds)) {
      const c = await peerChangeOf(tx, id);
      if (c) changes.push(c);
    }
    return { result: undefined, changes };
  });
}
