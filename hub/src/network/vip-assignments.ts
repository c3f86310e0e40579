/**
 * A VIP's primary-holder history (`vip_assignments`, the predecessor's VirtualIpAssignment): one row per
 * change of the primary, naming the member it moved from (null: the first holder) and to and why
 * (`bootstrap` for a VIP's first holder or a re-bootstrap, `manual_failover`, `sensor_failover`).
 */
import { asc, eq, inArray } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { networkMembers, type VipAssignmentReason, vipAssignments } from "../db/schema/index.ts";
import type { Tx } from "../desired-state/index.ts";

export type VipAssignmentRow = typeof vipAssignments.$inferSelect;

/** A history row with its members' node ids (null when the member has left since). */
export interface VipAssignmentView extends VipAssignmentRow {
  fromNodeId: string | null;
  toNodeId: string | null;
}

/** Writes one history row (in the caller's transaction, beside the holder change it records). */
export async function recordVipAssignment(
  tx: Tx,
  input: {
    vipId: string;
    fromMemberId: string | null;
    toMemberId: string;
    reason: VipAssignmentReason;
    correlationId?: string;
  },
): Promise<VipAssignmentRow> {
  const [row] = await tx
    .insert(vipAssignments)
    .values({ ...input, correlationId: input.correlationId ?? "" })
    .returning();
  if (!row) throw new Error(`VIP ${input.vipId}: no assignment row returned`);
  return row;
}

/** Adds the members' node ids (an operator peer's member id) to history rows. */
export async function withNodeIds(
  db: Db | Tx,
  rows: readonly VipAssignmentRow[],
): Promise<VipAssignmentView[]> {
  const ids = [
    ...new Set(rows.flatMap((r) => (r.fromMemberId ? [r.fromMemberId, r.toMemberId] : [r.toMemberId]))),
  ];
  const members =
    ids.length === 0
      ? []
      : await db
          .select({ id: networkMembers.id, instanceId: networkMembers.instanceId })
          .from(networkMembers)
          .where(inArray(networkMembers.id, ids));
  const nodeOf = new Map(members.map((m) => [m.id, m.instanceId ?? m.id]));
  return rows.map((r) => ({
    ...r,
    fromNodeId: r.fromMemberId ? (nodeOf.get(r.fromMemberId) ?? null) : null,
    toNodeId: nodeOf.get(r.toMemberId) ?? null,
  }));
}

/** A VIP's history, oldest first. */
export async function listVipAssignments(db: Db | Tx, vipId: string): Promise<VipAssignmentView[]> {
  const rows = await db
    .select()
    .from(vipAssignments)
    .where(eq(vipAssignments.vipId, vipId))
    .orderBy(asc(vipAssignments.createdAt));
  return withNodeIds(db, rows);
}
