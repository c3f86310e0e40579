/**
 * What the hub knows of a VIP's holders, read for the liveness decision (vip-liveness.ts): each holder's
 * member and node (name, public key, last heartbeat) and the handshakes the network's members report.
 */
import { eq, inArray } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { instances, networkMembers } from "../db/schema/index.ts";
import type { Tx } from "../desired-state/index.ts";
import { memberNodeId } from "./networks.ts";
import { type HolderState, latestHandshakes } from "./vip-liveness.ts";

/** One holder as ListVips and failover see it. */
export interface HolderView extends HolderState {
  /** The member's node (instances.id); null for an operator peer or a member that left. */
  instanceId: string | null;
  /** The node's name (an operator peer's); "" when the member has left. */
  nodeName: string;
}

/**
 * The holders `memberIds` in order; a member that left, or whose node was deleted, is kept with `nodeId`
 * null (never alive); a stopped node's holder has no heartbeat or key to count (never alive either).
 */
export async function holderViews(db: Db | Tx, memberIds: readonly string[]): Promise<HolderView[]> {
  if (memberIds.length === 0) return [];
  const rows = await db
    .select({
      id: networkMembers.id,
      instanceId: networkMembers.instanceId,
      operatorName: networkMembers.operatorName,
      publicKey: networkMembers.publicKey,
      nodeName: instances.name,
      lastHeartbeatAt: instances.lastHeartbeatAt,
      state: instances.state,
    })
    .from(networkMembers)
    .leftJoin(instances, eq(instances.id, networkMembers.instanceId))
    .where(inArray(networkMembers.id, [...memberIds]));
  const byId = new Map(rows.map((r) => [r.id, r]));
  return memberIds.map((id): HolderView => {
    const r = byId.get(id);
    if (!r || r.state === "deleted")
      return {
        memberId: id,
        instanceId: null,
        nodeId: null,
        publicKey: null,
        lastHeartbeatAt: null,
        nodeName: "",
      };
    const stopped = r.state === "stopped";
    return {
      memberId: id,
      instanceId: r.instanceId,
      nodeId: memberNodeId(r),
      publicKey: stopped ? null : r.publicKey,
      lastHeartbeatAt: stopped ? null : (r.lastHeartbeatAt ?? null),
      nodeName: r.nodeName ?? r.operatorName ?? "",
    };
  });
}

/** Per public key: the latest handshake any member of the network reports with it (unix seconds). */
export async function networkHandshakes(db: Db | Tx, networkId: string): Promise<Map<string, number>> {
  const members = await db
    .select({ publicKey: networkMembers.publicKey, observed: networkMembers.observed })
    .from(networkMembers)
    .where(eq(networkMembers.networkId, networkId));
  return latestHandshakes(members);
}
