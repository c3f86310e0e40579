/**
 * VIP failover: moves a VIP's primary holder to another holder (an operator's `FailoverVip`, or the
 * `vip failover` job on the holder's loss, vip-failover-job.ts). One network change under the network's
 * and the VIP's row locks: the target becomes the primary, the old primary goes to the end of the
 * failover list, a `vip_assignments` row records it, and both members' peer entries are published (every
 * peer's AllowedIPs follow the VIP at commit). Then both nodes' desired states are recompiled (the
 * holder's `vips`: the new one adds the /128 to its mesh interface, the old one drops it) and
 * `system.vip.failover` is emitted.
 */
import { EVENTS, withSeverity } from "@powernode/proto";
import { eq } from "drizzle-orm";
import { networkVips } from "../db/schema/index.ts";
import type { Deps } from "../deps.ts";
import type { Tx } from "../desired-state/index.ts";
import { DomainError, isDomainError } from "../errors.ts";
import { changeNetwork } from "./networks.ts";
import type { PeerChange } from "./peer-bus.ts";
import { peerChangeOf } from "./peers.ts";
import { recordVipAssignment, type VipAssignmentView, withNodeIds } from "./vip-assignments.ts";
import { vipFailoverSeconds } from "./vip-failover-config.ts";
import { type HolderView, holderViews, networkHandshakes } from "./vip-holders.ts";
import { firstLiveCandidate } from "./vip-liveness.ts";
import { getVip, type VipRow } from "./vips.ts";

export type FailoverReason = "manual_failover" | "sensor_failover";

export interface FailoverInput {
  /** The VIP's id. */
  vip: string;
  /** A holder's member id or node id; undefined: the first live holder of the failover list. */
  to?: string;
  reason: FailoverReason;
  /** Ties the history row and the event together; default a fresh UUID. */
  correlationId?: string;
  /** Move only while this member is still the primary (the job's guard against a move in between). */
  ifPrimary?: string;
}

export interface FailoverResult {
  vip: VipRow;
  moved: boolean;
  assignment?: VipAssignmentView;
}

type FailoverDeps = Pick<Deps, "db" | "events" | "cluster" | "desiredState" | "now" | "config">;

/** What the transaction decided: nothing moved, or from -> to with the history row. */
type Outcome =
  | { vip: VipRow; moved: false }
  | { vip: VipRow; moved: true; assignment: VipAssignmentView | undefined; from: HolderView; to: HolderView };

const holderName = (h: HolderView) => (h.nodeName ? `${h.nodeName} (${h.nodeId})` : h.memberId);

/** The holder `to` names (member id or node id); invalid_argument naming `to` when it holds no part. */
function namedHolder(vip: VipRow, holders: readonly HolderView[], to: string): HolderView {
  const ref = to.toLowerCase();
  const h = holders.find((x) => x.memberId === ref || x.nodeId === ref);
  if (!h)
    throw new DomainError(
      "invalid_argument",
      `to: ${to.slice(0, 64)} is not a holder of VIP ${vip.name} (holders: ${holders.map(holderName).join(", ")})`,
    );
  if (h.nodeId === null)
    throw new DomainError(
      "precondition",
      `to: member ${h.memberId} holds VIP ${vip.name} but has left the network`,
    );
  return h;
}

/** The first live holder of the failover list, or precondition naming `vip`. */
async function liveCandidate(
  deps: FailoverDeps,
  tx: Tx,
  vip: VipRow,
  holders: readonly HolderView[],
): Promise<HolderView> {
  if (holders.length < 2)
    throw new DomainError("precondition", `vip: VIP ${vip.name} has no failover candidate (one holder)`);
  const thresholdSeconds = vipFailoverSeconds(deps.config);
  const handshakes = await networkHandshakes(tx, vip.networkId);
  const live = firstLiveCandidate(holders, { handshakes, now: deps.now(), thresholdSeconds });
  if (!live)
    throw new DomainError(
      "precondition",
      `vip: no live failover candidate for VIP ${vip.name}: none of ${holders.slice(1).map(holderName).join(", ")} ` +
        `heartbeated or had a peer handshake in the last ${thresholdSeconds} s (name one with to)`,
    );
  return live;
}

/** Moves a VIP's primary; see the module comment. Moving to the current primary changes nothing. */
export async function failoverVip(deps: FailoverDeps, input: FailoverInput): Promise<FailoverResult> {
  const found = await getVip(deps.db, input.vip);
  if (!found) throw new DomainError("not_found", `vip: no VIP ${input.vip}`);
  const correlationId = input.correlationId || crypto.randomUUID();
  const out = await changeNetwork(
    deps,
    found.networkId,
    async (tx): Promise<{ result: Outcome; changes: PeerChange[] }> => {
      const [vip] = await tx.select().from(networkVips).where(eq(networkVips.id, found.id)).for("update");
      if (!vip) throw new DomainError("not_found", `vip: no VIP ${input.vip}`);
      const holders = await holderViews(tx, vip.holderMemberIds);
      const from = holders[0];
      if (!from) throw new DomainError("precondition", `vip: VIP ${vip.name} has no holder`);
      const unchanged = { result: { vip, moved: false as const }, changes: [] };
      if (input.ifPrimary !== undefined && from.memberId !== input.ifPrimary) return unchanged;
      const to = input.to ? namedHolder(vip, holders, input.to) : await liveCandidate(deps, tx, vip, holders);
      if (to.memberId === from.memberId) return unchanged;
      const order = [
        to.memberId,
        ...vip.holderMemberIds.filter((m) => m !== to.memberId && m !== from.memberId),
        from.memberId,
      ];
      const [updated] = await tx
        .update(networkVips)
        .set({ holderMemberIds: order, updatedAt: deps.now() })
        .where(eq(networkVips.id, vip.id))
        .returning();
      if (!updated) throw new Error(`VIP ${vip.name}: no row returned`);
      const row = await recordVipAssignment(tx, {
        vipId: vip.id,
        fromMemberId: from.memberId,
        toMemberId: to.memberId,
        reason: input.reason,
        correlationId,
      });
      const changes: PeerChange[] = [];
      for (const h of [from, to]) {
        const change = h.nodeId === null ? undefined : await peerChangeOf(tx, h.memberId);
        if (change) changes.push(change);
      }
      const [assignment] = await withNodeIds(tx, [row]);
      return { result: { vip: updated, moved: true as const, assignment, from, to }, changes };
    },
  );
  if (!out.moved) return { vip: out.vip, moved: false };
  // The new holder first (it must put the /128 on its interface); a failed recompile (a node deleted
  // meanwhile) does not stop the other or the event: the move is committed.
  for (const h of [out.to, out.from])
    if (h.instanceId)
      await deps.desiredState.change(h.instanceId).catch((error: unknown) => {
        if (!isDomainError(error) || error.kind !== "not_found") throw error;
      });
  const kind =
    input.reason === "manual_failover" ? withSeverity(EVENTS.vipFailover, "info") : EVENTS.vipFailover;
  await deps.events.emit(
    kind,
    {
      vipId: out.vip.id,
      name: out.vip.name,
      address: out.vip.address,
      networkId: out.vip.networkId,
      fromMemberId: out.from.memberId,
      fromNodeId: out.from.nodeId,
      toMemberId: out.to.memberId,
      toNodeId: out.to.nodeId,
      reason: input.reason,
      correlationId,
    },
    { nodeId: out.to.instanceId ?? undefined, correlationId },
  );
  return { vip: out.vip, moved: true, assignment: out.assignment };
}

/**
 * Takes a node out of a VIP's service before its machine goes (a drained K3s server): when it is the
 * primary, the VIP fails over first (reason manual_failover, correlation `drain:<node>`); then its
 * member leaves the holder list, so no later failover picks it. A primary with no live candidate keeps
 * the VIP (logged): moving it nowhere would only make it unreachable sooner.
 */
export async function retireVipHolder(
  deps: FailoverDeps & Pick<Deps, "log">,
  vipId: string,
  nodeId: string,
): Promise<void> {
  const vip = await getVip(deps.db, vipId);
  if (!vip) return;
  const holder = (await holderViews(deps.db, vip.holderMemberIds)).find((h) => h.nodeId === nodeId);
  if (!holder) return;
  if (vip.holderMemberIds[0] === holder.memberId) {
    try {
      await failoverVip(deps, {
        vip: vipId,
        reason: "manual_failover",
        correlationId: `drain:${nodeId}`,
        ifPrimary: holder.memberId,
      });
    } catch (e) {
      if (!(e instanceof DomainError) || e.kind !== "precondition") throw e;
      deps.log.warn("draining a VIP holder: no live candidate, the VIP stays on it", {
        vipId,
        nodeId,
        error: e,
      });
      return;
    }
  }
  await deps.db.transaction(async (tx) => {
    const [locked] = await tx.select().from(networkVips).where(eq(networkVips.id, vipId)).for("update");
    // Still the primary (a move in between put it back): keep it, as above.
    if (!locked || locked.holderMemberIds[0] === holder.memberId) return;
    await tx
      .update(networkVips)
      .set({
        holderMemberIds: locked.holderMemberIds.filter((m) => m !== holder.memberId),
        updatedAt: deps.now(),
      })
      .where(eq(networkVips.id, vipId));
  });
}
