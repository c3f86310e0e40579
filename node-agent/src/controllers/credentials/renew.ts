/**
 * Certificate renewal: at 75 % of the certificate's lifetime, a fresh key and CSR (same CN) are traded
 * for a new certificate with RenewCertificate over the current mTLS connection; the credentials are
 * saved and the connection is replaced. Retried with backoff; if the certificate runs out first, the
 * next start falls back to Enroll (which needs a fresh bootstrap token).
 */

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
