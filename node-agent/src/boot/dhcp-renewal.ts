/**
 * Keeps a DHCP address after boot: at half the lease time (at least `minDelayMs`) udhcpc runs again and
 * a changed address, prefix or router is applied (the old address removed). Failures are logged and
 * retried with backoff; this never ends the agent. Not part of the boot sequence: it runs beside the
 * hub session.
 */
import { createBackoff } from "../runtime/backoff.ts";
import type { Lease } from "../sys/net.ts";
import type { BootContext } from "./boot-context.ts";

export interface DhcpRenewalOptions {
  /** Never run udhcpc again sooner than this. Default 60 s. */
  minDelayMs?: number;
}

/** Assumed when the server named no lease time. */
const DEFAULT_LEASE_SECONDS = 3600;
// setTimeout holds at most 2^31-1 ms; day-long leases are slept in parts.
const MAX_SLEEP_MS = 86_400_000;

/** Starts renewing `lease`; `stop()` ends the loop. */
export function startDhcpRenewal(
  ctx: BootContext,
  first: Lease,
  opts: DhcpRenewalOptions = {},
): { stop(): void; done: Promise<void> } {
  const abort = new AbortController();
  const minDelay = opts.minDelayMs ?? 60_000;
  const sleep = async (ms: number) => {
    for (let left = ms; left > 0 && !abort.signal.aborted; left -= MAX_SLEEP_MS) {
      await ctx.clock.sleep(Math.min(left, MAX_SLEEP_MS), abort.signal);
    }
  };
  const loop = async () => {
    let lease = first;
    const backoff = createBackoff(ctx.backoff);
    let delay = Math.max(minDelay, ((lease.leaseSeconds ?? DEFAULT_LEASE_SECONDS) * 1000) / 2);
    while (!abort.signal.aborted) {
      await sleep(delay);
      if (abort.signal.aborted) return;
      try {
        const next = await ctx.net.dhcp(lease.interface);
        if (next.address !== lease.address || next.prefix !== lease.prefix) {
          await ctx.net.setAddress(next.interface, next.address, next.prefix);
          await ctx.net.removeAddress(lease.interface, lease.address, lease.prefix);
          ctx.log.warn(
            `network: DHCP address changed ${lease.address}/${lease.prefix} -> ${next.address}/${next.prefix}`,
          );
        }
        if (next.router && next.router !== lease.router)
          await ctx.net.setDefaultRoute(next.interface, next.router);
        ctx.net.writeResolvConf(next.dns);
        lease = next;
        ctx.state.lease = next;
        backoff.reset();
        delay = Math.max(minDelay, ((next.leaseSeconds ?? DEFAULT_LEASE_SECONDS) * 1000) / 2);
      } catch (err) {
        delay = backoff.next();
        const why = err instanceof Error ? err.message : String(err);
        ctx.log.warn(
          `network: DHCP renewal on ${lease.interface} failed (${why}), retrying in ${(delay / 1000).toFixed(1)} s`,
        );
      }
    }
  };
  const done = loop();
  return { stop: () => abort.abort(), done };
}
