/**
 * Certificate renewal: at 75 % of the certificate's lifetime, a fresh key and CSR (same CN) are traded
 * for a new certificate with RenewCertificate over the current mTLS connection; the credentials are
 * saved and the connection is replaced (the hub revokes the old certificate once the new one is used).
 * Retried with backoff; a refusal that names when to come back (the hub's renewal window opens in the
 * last third of the life, or a renewal it granted is not in use yet) is retried then. If the
 * certificate runs out first, the next start falls back to Enroll (which needs a fresh bootstrap token).
 */

import { Code, ConnectError } from "@connectrpc/connect";
import type { HubLink } from "../../hub/hub-client.ts";
import { createNodeKeyAndCsr } from "../../pki/csr.ts";
import { checkPki, type NodePki, savePki } from "../../pki/pki-store.ts";
import type { ControllerContext } from "../../runtime/controller.ts";
import type { AgentDeps } from "../deps.ts";

export interface RenewalOptions {
  /** Fraction of the lifetime after which to renew. Default 0.75. */
  fraction?: number;
  /** Never renew sooner than this after the previous renewal. Default 60 s. */
  minIntervalMs?: number;
}

/** When a certificate should be renewed. */
export function renewalTime(pki: Pick<NodePki, "notBefore" | "notAfter">, fraction = 0.75): Date {
  const from = pki.notBefore.getTime();
  return new Date(from + (pki.notAfter.getTime() - from) * fraction);
}

// setTimeout holds at most 2^31-1 ms (24.8 days); a 90-day certificate renews later than that.
const MAX_SLEEP_MS = 86_400_000;

/** Sleeps until `at` (wall clock), in steps a timer can hold; returns early when stopped. */
export async function sleepUntil(
  ctx: Pick<ControllerContext, "clock" | "signal">,
  at: number,
): Promise<void> {
  for (let left = at - ctx.clock.now().getTime(); left > 0 && !ctx.signal.aborted; ) {
    await ctx.clock.sleep(Math.min(left, MAX_SLEEP_MS), ctx.signal);
    left = at - ctx.clock.now().getTime();
  }
}

/** Like {@link sleepUntil}, but also wakes on an input change and returns early once `stop()` holds. */
export async function sleepUntilOr(
  ctx: Pick<ControllerContext, "clock" | "signal" | "changed">,
  at: number,
  stop: () => unknown,
): Promise<void> {
  for (let left = at - ctx.clock.now().getTime(); left > 0 && !ctx.signal.aborted && !stop(); ) {
    const ms = Math.min(left, MAX_SLEEP_MS);
    const woken = new AbortController();
    const signal = AbortSignal.any([ctx.signal, woken.signal]);
    // The clock's sleep (a test clock may run fast) or an input change, whichever comes first.
    await Promise.race([
      ctx.clock.sleep(ms, signal).catch(() => undefined),
      ctx.changed({ timeoutMs: ms, signal }),
    ]);
    woken.abort();
    left = at - ctx.clock.now().getTime();
  }
}

/** Trades a fresh key and CSR (same CN) for a new certificate over the current connection; saves it. */
export async function renewOnce(
  deps: AgentDeps,
  ctx: ControllerContext,
  link: HubLink,
  pki: NodePki,
): Promise<NodePki> {
  const { instanceUuid } = deps.identity;
  const { keyPem, csrPem } = await createNodeKeyAndCsr(instanceUuid);
  const r = await link
    .current()
    .client.renewCertificate({ csrPem }, { signal: ctx.signal, timeoutMs: 30_000 });
  const checked = checkPki(
    { instanceUuid, keyPem, certificatePem: r.certificatePem, caChainPem: r.caChainPem || pki.caChainPem },
    ctx.clock.now(),
  );
  if (!checked.ok)
    throw new Error(`hub answered RenewCertificate with unusable credentials: ${checked.reason}`);
  savePki(deps.stateDir, checked.value, ctx.clock.now());
  return checked.value;
}

/** A refused renewal is asked again at least this often (an operator may allow an early one meanwhile). */
export const MAX_REFUSED_RENEWAL_WAIT_MS = 3_600_000;

/**
 * When a RenewCertificate refused with failed_precondition says to come back ("... opens at <time>",
 * "... renew again from <time>"): that time (at most an hour away), if it is later than `now` and
 * leaves a minute before the certificate expires; otherwise undefined (retry with the usual backoff).
 */
export function retryTimeOf(err: unknown, now: Date, notAfter: Date): Date | undefined {
  if (!(err instanceof ConnectError) || err.code !== Code.FailedPrecondition) return undefined;
  const m = /(?:opens at|again from) (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z)/.exec(err.rawMessage);
  const at = m?.[1] ? new Date(m[1]).getTime() : Number.NaN;
  if (Number.isNaN(at) || at <= now.getTime() || at >= notAfter.getTime() - 60_000) return undefined;
  return new Date(Math.min(at, now.getTime() + MAX_REFUSED_RENEWAL_WAIT_MS));
}
