/**
 * The `vip failover` job: every few seconds, each active VIP with a failover list whose primary is lost
 * (no heartbeat and no peer handshake for POWERNODE_VIP_FAILOVER_SECONDS, vip-liveness.ts) moves to the
 * first live holder of its failover list with reason `sensor_failover`. A VIP whose candidates are all
 * lost too stays where it is, logged once until that changes (docs/runbooks/vip-failover.md).
 */
import { eq } from "drizzle-orm";
import { networkVips } from "../db/schema/index.ts";
import type { Deps } from "../deps.ts";
import { failoverVip } from "./vip-failover.ts";
import { vipFailoverSeconds } from "./vip-failover-config.ts";
import { holderViews, networkHandshakes } from "./vip-holders.ts";
import { decideFailover, isHolderAlive } from "./vip-liveness.ts";

/** How often the job looks (a failover comes at most this long after the threshold). */
export const VIP_FAILOVER_JOB_MS = 5_000;

/** Per hub (its database handle): the VIPs already logged as stranded. */
const strandedOf = new WeakMap<object, Set<string>>();

/** One pass over the active VIPs; see the module comment. Failures of single VIPs are thrown together at the end. */
export async function vipFailoverJob(deps: Deps): Promise<void> {
  const now = deps.now();
  const thresholdSeconds = vipFailoverSeconds(deps.config);
  const stranded = strandedOf.get(deps.db) ?? new Set<string>();
  strandedOf.set(deps.db, stranded);
  const vips = await deps.db.select().from(networkVips).where(eq(networkVips.state, "active"));
  const handshakesOf = new Map<string, Map<string, number>>();
  const failures: string[] = [];
  for (const vip of vips) {
    if (vip.holderMemberIds.length < 2) continue;
    const holders = await holderViews(deps.db, vip.holderMemberIds);
    const primary = holders[0];
    // The common case: the primary heartbeated recently; the network's handshakes are not read.
    if (primary && isHolderAlive(primary, { handshakes: new Map(), now, thresholdSeconds })) {
      stranded.delete(vip.id);
      continue;
    }
    let handshakes = handshakesOf.get(vip.networkId);
    if (!handshakes) {
      handshakes = await networkHandshakes(deps.db, vip.networkId);
      handshakesOf.set(vip.networkId, handshakes);
    }
    const decision = decideFailover(holders, { handshakes, now, thresholdSeconds });
    if (decision.action === "stranded") {
      if (!stranded.has(vip.id))
        deps.log.warn("VIP primary lost and no live failover candidate: the VIP stays put", {
          vipId: vip.id,
          vip: vip.name,
          address: vip.address,
          primaryMemberId: decision.from,
          thresholdSeconds,
        });
      stranded.add(vip.id);
      continue;
    }
    stranded.delete(vip.id);
    if (decision.action !== "failover") continue;
    try {
      await failoverVip(deps, {
        vip: vip.id,
        to: decision.to,
        reason: "sensor_failover",
        ifPrimary: decision.from,
      });
    } catch (e) {
      deps.log.error("VIP failover failed", { vipId: vip.id, vip: vip.name, error: e });
      failures.push(`${vip.name}: ${(e as Error).message}`);
    }
  }
  if (failures.length > 0)
    throw new Error(`VIP failover: ${failures.length} failed (${failures.join("; ")})`);
}
