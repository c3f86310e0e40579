/**
 * A deleted node leaves its networks: every peer drops it at once (its WireGuard peer entry and the
 * AllowedIPs routed to it), and the mesh health no longer waits for it. Called by DeleteInstance (the
 * feature's instanceDeleted hook); the sweep at start catches a node deleted while a hook failed.
 * A VIP it held keeps the member id in its holder list until the `vip failover` job moves the VIP
 * (a holder that has left is never alive).
 */
import { and, eq } from "drizzle-orm";
import { instances, networkMembers } from "../db/schema/index.ts";
import type { Deps } from "../deps.ts";
import type { Job } from "../feature.ts";
import { leaveNetwork, membershipsOf } from "./networks.ts";

type LeaveDeps = Pick<Deps, "db" | "events" | "desiredState" | "cluster">;

/** Removes `nodeId` from every network it is a member of; returns how many. */
export async function forgetDeletedMember(deps: LeaveDeps, nodeId: string): Promise<number> {
  const memberships = await membershipsOf(deps.db, nodeId);
  for (const { network } of memberships)
    await leaveNetwork(deps, { network: network.id, nodeId, nodeGone: true });
  return memberships.length;
}

/** The sweep: memberships of deleted instances, at start. */
export const forgetDeletedMembersJob: Job = {
  name: "network-forget-deleted-members",
  everyMs: 600_000,
  atStart: true,
  run: async (deps) => {
    const rows = await deps.db
      .selectDistinct({ id: instances.id })
      .from(networkMembers)
      .innerJoin(instances, and(eq(instances.id, networkMembers.instanceId), eq(instances.state, "deleted")));
    let n = 0;
    for (const { id } of rows) n += await forgetDeletedMember(deps, id);
    if (n > 0) deps.log.info("removed network memberships of deleted instances", { count: n });
  },
};
