/**
 * Republishing members' peer entries after a change made outside a network change: a VIP created,
 * moved or deleted inside another feature's transaction (a K3s cluster's API VIP). Every peer's
 * AllowedIPs follow at once, instead of at its stream's next snapshot. A member that is gone is
 * skipped.
 */
import { eq } from "drizzle-orm";
import { networkMembers } from "../db/schema/index.ts";
import type { Deps } from "../deps.ts";
import { isDomainError } from "../errors.ts";
import { changeNetwork } from "./networks.ts";
import type { PeerChange } from "./peer-bus.ts";
import { peerChangeOf } from "./peers.ts";

export async function republishMembers(
  deps: Pick<Deps, "db" | "events" | "cluster" | "desiredState">,
  networkId: string,
  memberIds: readonly string[],
  opts: {
    /** Members whose nodes' desired states are recompiled too (a VIP left them). */ recompile?: readonly string[];
  } = {},
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
  for (const id of opts.recompile ?? []) {
    const [m] = await deps.db
      .select({ node: networkMembers.instanceId })
      .from(networkMembers)
      .where(eq(networkMembers.id, id));
    if (!m?.node) continue;
    await deps.desiredState.change(m.node).catch((e: unknown) => {
      if (!isDomainError(e) || e.kind !== "not_found") throw e; // a deleted node has nothing to drop
    });
  }
}
