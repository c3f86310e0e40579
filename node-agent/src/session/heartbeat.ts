/** The heartbeat loop: liveness plus observations, at the interval the hub sets. */

import { timestampDate } from "@bufbuild/protobuf/wkt";
import { DesiredNodeState } from "../runtime/resources.ts";
import { answerAttestation } from "./attest.ts";
import type { ModuleObservationReport, SessionContext } from "./context.ts";
import { loopBackoff, waitBeforeRetry } from "./context.ts";
import type { HubLink } from "./hub-client.ts";
import { PHASES } from "./phases.ts";

/** Clock differences above this are worth a warning (certificate validity checks allow 5 minutes). */
export const CLOCK_SKEW_WARN_SECONDS = 60;

/** Warns when the node's clock is far from the hub's (no RTC, say): certificates will look invalid. */
function warnOnClockSkew(ctx: SessionContext, serverTime: Date | undefined): void {
  if (!serverTime) return;
  const skew = (ctx.clock.now().getTime() - serverTime.getTime()) / 1000;
  if (Math.abs(skew) > CLOCK_SKEW_WARN_SECONDS)
    ctx.log.warn(`clock: this node is ${skew.toFixed(0)} s ${skew > 0 ? "ahead of" : "behind"} the hub`);
}

/** Module observations; a failing observer is logged and reported as no modules, never stops heartbeats. */
function observeModules(ctx: SessionContext): ModuleObservationReport[] {
  if (!ctx.modules) return [];
  try {
    return ctx.modules.observe();
  } catch (err) {
    ctx.log.error(`heartbeat: observing modules failed: ${err instanceof Error ? err.message : String(err)}`);
    return [];
  }
}

/** Used until the hub names an interval. */
export const DEFAULT_HEARTBEAT_SECONDS = 30;

/** Runs until the session stops; never throws. */
export async function runHeartbeatLoop(ctx: SessionContext, link: HubLink): Promise<void> {
  const backoff = loopBackoff(ctx);
  let failing = false;
  while (!ctx.signal.aborted) {
    const generation = link.generation();
    try {
      const modules = observeModules(ctx);
      const r = await link.current().client.heartbeat(
        {
          bootId: ctx.bootId,
          agentVersion: ctx.agentVersion,
          uptimeSeconds: ctx.clock.uptimeSeconds(),
          appliedVersion: ctx.modules
            ? (ctx.modules.appliedVersion() ?? 0n)
            : (ctx.store.get(DesiredNodeState, "node")?.spec.version ?? 0n),
          modules,
          zombieCount: ctx.metrics.zombieCount(),
          agentRssBytes: BigInt(ctx.metrics.rssBytes()),
          childrenSpawned: ctx.metrics.childrenSpawned?.() ?? 0,
        },
        { signal: ctx.signal, timeoutMs: 15_000 },
      );
      backoff.reset();
      if (failing) {
        ctx.log.info("heartbeat: hub reachable again");
        // The desired-state stream may have died silently with the old connection.
        ctx.restartWatch("hub reachable again");
      }
      failing = false;
      const held = ctx.store.get(DesiredNodeState, "node")?.spec.version ?? 0n;
      if (r.desiredVersion > held)
        ctx.restartWatch(`hub has desired version ${r.desiredVersion}, holding ${held}`);
      ctx.state.heartbeatsAcked++;
      if (r.nextHeartbeatSeconds > 0) ctx.state.heartbeatSeconds = r.nextHeartbeatSeconds;
      if (!ctx.phases.has(PHASES.heartbeatReceived)) {
        ctx.phases.record(PHASES.heartbeatReceived);
        warnOnClockSkew(ctx, r.serverTime ? timestampDate(r.serverTime) : undefined);
      }
      // The hub asks for a signed attestation of exactly what this heartbeat reported.
      if (r.attestNonce.length > 0) await answerAttestation(ctx, link, r.attestNonce, modules);
      ctx.changed();
      await ctx.clock.sleep(ctx.state.heartbeatSeconds * 1000, ctx.signal);
    } catch (err) {
      if (ctx.signal.aborted) return;
      // Cut off by a connection replacement (certificate renewed): send again on the new one.
      if (link.generation() !== generation) continue;
      failing = true;
      await waitBeforeRetry(ctx, "heartbeat", err, backoff);
    }
  }
}
