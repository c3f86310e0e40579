/**
 * Virtual IPs of a network: a /128 in the network's /64 that one or more members hold (a K3s cluster's
 * API address, later storage and SDWAN service addresses). The address of a named VIP is fixed by its
 * name: `<prefix /64>:dead:beef:0:<16-bit hash of the name>`, so it stays the same across re-creation.
 * An active VIP is routed to its primary holder (the first): it is in that member's entry of every
 * peer's AllowedIPs (peers.ts) and on the member's own mesh interface (its `vips`, section.ts); the
 * holders after it are the failover list, in order. Failover moves the primary (vip-failover.ts), and
 * every change of the primary is a `vip_assignments` row (vip-assignments.ts).
 */
import { createHash } from "node:crypto";
import { and, eq } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { networkVips } from "../db/schema/index.ts";
import type { Tx } from "../desired-state/index.ts";
import { DomainError } from "../errors.ts";
import { formatIpv6, parseUlaPrefix } from "./addresses.ts";
import { recordVipAssignment } from "./vip-assignments.ts";

export type VipRow = typeof networkVips.$inferSelect;

/** The first 16 bits of sha256(name). */
export function vipHash(name: string): number {
  const h = createHash("sha256").update(name, "utf8").digest();
  return ((h[0] ?? 0) << 8) | (h[1] ?? 0);
}

/** The VIP address of `name` in a network's /64, RFC 5952 text without a length. */
export function vipAddress(prefix: string, name: string): string {
  const parsed = parseUlaPrefix(prefix);
  if ("error" in parsed) throw new Error(`prefix: ${parsed.error}`);
  return formatIpv6([...parsed.groups.slice(0, 4), 0xdead, 0xbeef, 0, vipHash(name)]);
}

/**
 * Makes the VIP `name` at `address` (see {@link vipAddress}) in a network, held by `holderMemberIds`
 * (primary first), state active, with a `bootstrap` history row for its first holder. Another VIP on
 * that address (two names with the same hash) is `already_exists`, naming both.
 */
export async function createVip(
  tx: Tx,
  input: { networkId: string; address: string; name: string; holderMemberIds: string[] },
): Promise<VipRow> {
  const { address } = input;
  const [clash] = await tx
    .select()
    .from(networkVips)
    .where(and(eq(networkVips.networkId, input.networkId), eq(networkVips.address, address)));
  if (clash)
    throw new DomainError(
      "already_exists",
      `name: VIP "${input.name}" would be ${address}, which VIP "${clash.name}" holds (its name hashes alike)`,
    );
  const [row] = await tx
    .insert(networkVips)
    .values({
      networkId: input.networkId,
      name: input.name,
      address,
      holderMemberIds: input.holderMemberIds,
      state: "active",
    })
    .returning();
  if (!row) throw new Error(`VIP ${input.name}: no row returned`);
  const first = input.holderMemberIds[0];
  if (first)
    await recordVipAssignment(tx, {
      vipId: row.id,
      fromMemberId: null,
      toMemberId: first,
      reason: "bootstrap",
    });
  return row;
}

/** The VIP's row, locked for the rest of `tx` (every writer of its holders takes it: no lost update). */
async function lockVip(tx: Tx, vipId: string): Promise<VipRow | undefined> {
  const [vip] = await tx.select().from(networkVips).where(eq(networkVips.id, vipId)).for("update");
  return vip;
}

/**
 * Makes `memberId` the primary holder (first) of a VIP, keeping the others as failover candidates (a
 * server's first bootstrap); a change of the primary is a `bootstrap` history row. Returns the previous
 * primary when it changed. The caller publishes the peer change and recompiles both holders (failoverVip
 * does both for a failover).
 */
export async function setVipPrimary(tx: Tx, vipId: string, memberId: string): Promise<string | undefined> {
  const vip = await lockVip(tx, vipId);
  if (!vip) return undefined;
  const previous = vip.holderMemberIds[0];
  if (previous !== memberId)
    await recordVipAssignment(tx, {
      vipId,
      fromMemberId: previous ?? null,
      toMemberId: memberId,
      reason: "bootstrap",
    });
  const holders = [memberId, ...vip.holderMemberIds.filter((m) => m !== memberId)];
  await tx
    .update(networkVips)
    .set({ holderMemberIds: holders, state: "active", updatedAt: new Date() })
    .where(eq(networkVips.id, vipId));
  return previous !== memberId ? previous : undefined;
}

/** Appends `memberId` to a VIP's holders (a failover candidate) unless it holds it already. */
export async function addVipHolder(tx: Tx, vipId: string, memberId: string): Promise<void> {
  const vip = await lockVip(tx, vipId);
  if (!vip || vip.holderMemberIds.includes(memberId)) return;
  await tx
    .update(networkVips)
    .set({ holderMemberIds: [...vip.holderMemberIds, memberId], updatedAt: new Date() })
    .where(eq(networkVips.id, vipId));
}

export async function getVip(db: Db | Tx, vipId: string): Promise<VipRow | undefined> {
  const [vip] = await db.select().from(networkVips).where(eq(networkVips.id, vipId));
  return vip;
}

export async function deleteVip(tx: Tx, vipId: string): Promise<void> {
  await tx.delete(networkVips).where(eq(networkVips.id, vipId));
}
