/** The retry pause every hub-talking controller shares: one log line saying what failed and why, then a backoff. */
import type { Backoff } from "../runtime/backoff.ts";
import type { ControllerContext } from "../runtime/controller.ts";
import { describeError, isUnreachable, isUntrustedHub } from "./describe-error.ts";

/** Logs a failed hub call ("heartbeat: hub unreachable (ECONNREFUSED), retrying in 4.2 s") and waits. */
export async function waitBeforeRetry(
  ctx: Pick<ControllerContext, "log" | "clock" | "signal">,
  what: string,
  err: unknown,
  backoff: Backoff,
): Promise<void> {
  const ms = backoff.next();
  const verb = isUntrustedHub(err)
    ? "hub certificate not trusted"
    : isUnreachable(err)
      ? "hub unreachable"
      : "hub refused";
  ctx.log.warn(`${what}: ${verb} (${describeError(err)}), retrying in ${(ms / 1000).toFixed(1)} s`);
  await ctx.clock.sleep(ms, ctx.signal);
}
