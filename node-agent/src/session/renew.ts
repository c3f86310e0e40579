/**
 * Certificate renewal: at 75 % of the certificate's lifetime, a fresh key and CSR (same CN) are traded
 * for a new certificate with RenewCertificate over the current mTLS connection; the credentials are
 * saved and the connection is replaced. Retried with backoff; if the certificate runs out first, the
 * next start falls back to Enroll (which needs a fresh bootstrap token).
 */
import { createNodeKeyAndCsr } from "../pki/csr.ts";
import { checkPki, type NodePki, savePki } from "../pki/pki-store.ts";
import { loopBackoff, type SessionContext, waitBeforeRetry } from "./context.ts";
import { connectHub, type HubLink } from "./hub-client.ts";

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

async function sleepUntil(ctx: SessionContext, at: number): Promise<void> {
  for (let left = at - ctx.clock.now().getTime(); left > 0 && !ctx.signal.aborted; ) {
    await ctx.clock.sleep(Math.min(left, MAX_SLEEP_MS), ctx.signal);
    left = at - ctx.clock.now().getTime();
  }
}

/** Runs until the session stops; never throws. */
export async function runCertificateRenewal(
  ctx: SessionContext,
  link: HubLink,
  opts: RenewalOptions = {},
): Promise<void> {
  const backoff = loopBackoff(ctx);
  const minInterval = opts.minIntervalMs ?? 60_000;
  let last: number | undefined;
  while (!ctx.signal.aborted) {
    const pki = ctx.state.pki;
    if (!pki) return;
    const due = renewalTime(pki, opts.fraction).getTime();
    await sleepUntil(ctx, last === undefined ? due : Math.max(due, last + minInterval));
    if (ctx.signal.aborted) return;
    try {
      const { instanceUuid } = ctx.identity;
      const { keyPem, csrPem } = await createNodeKeyAndCsr(instanceUuid);
      const r = await link
        .current()
        .client.renewCertificate({ csrPem }, { signal: ctx.signal, timeoutMs: 30_000 });
      const checked = checkPki(
        {
          instanceUuid,
          keyPem,
          certificatePem: r.certificatePem,
          caChainPem: r.caChainPem || pki.caChainPem,
        },
        ctx.clock.now(),
      );
      if (!checked.ok)
        throw new Error(`hub answered RenewCertificate with unusable credentials: ${checked.reason}`);
      savePki(ctx.stateDir, checked.value, ctx.clock.now());
      ctx.state.pki = checked.value;
      ctx.state.renewals++;
      last = ctx.clock.now().getTime();
      link.replace(
        connectHub({
          platformUrl: ctx.identity.platformUrl,
          caPem: ctx.identity.caPem,
          clientCert: checked.value,
        }),
      );
      ctx.log.info(`certificate renewed: valid until ${checked.value.notAfter.toISOString()}`);
      backoff.reset();
      ctx.changed();
    } catch (err) {
      if (ctx.signal.aborted) return;
      await waitBeforeRetry(ctx, "certificate renewal", err, backoff);
    }
  }
}
