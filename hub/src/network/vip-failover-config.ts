/**
 * The VIP failover threshold (POWERNODE_VIP_FAILOVER_SECONDS): how long a VIP's primary holder may go
 * without a heartbeat and without a peer reporting a handshake with it before the `vip failover` job
 * moves the VIP to the first live holder of its failover list (docs/runbooks/vip-failover.md).
 */
import { wholeFromEnv } from "../env-number.ts";

/**
 * The default threshold: three heartbeats at the default 10 s interval, so one late heartbeat does not
 * move a VIP (a smoke sets its own, shorter one).
 */
export const DEFAULT_VIP_FAILOVER_SECONDS = 30;

/** The longest threshold accepted (a day). */
export const MAX_VIP_FAILOVER_SECONDS = 86_400;

/**
 * POWERNODE_VIP_FAILOVER_SECONDS as a whole number from 5 to a day; undefined when unset (the default,
 * {@link vipFailoverSeconds}). A bad value is added to `problems`.
 */
export function parseVipFailoverSeconds(
  env: Record<string, string | undefined>,
  problems: string[],
): number | undefined {
  const raw = env.POWERNODE_VIP_FAILOVER_SECONDS;
  if (raw === undefined || raw === "") return undefined;
  return wholeFromEnv(
    env,
    "POWERNODE_VIP_FAILOVER_SECONDS",
    DEFAULT_VIP_FAILOVER_SECONDS,
    [5, MAX_VIP_FAILOVER_SECONDS],
    problems,
  );
}

/** The threshold a hub runs with. */
export function vipFailoverSeconds(config: { vipFailoverSeconds?: number | undefined }): number {
  return config.vipFailoverSeconds ?? DEFAULT_VIP_FAILOVER_SECONDS;
}
