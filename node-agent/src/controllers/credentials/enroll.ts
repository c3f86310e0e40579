/**
 * Credentials for the session: saved ones if still good and issued by the identity's CA (then Enroll is
 * skipped), otherwise a fresh ECDSA key + CSR traded for a certificate with Enroll, retried with backoff
 * until it works.
 */

import { connectHub } from "../../hub/hub-client.ts";
import { waitBeforeRetry } from "../../hub/retry.ts";
import { createNodeKeyAndCsr } from "../../pki/csr.ts";
import { checkPki, issuedByOneOf, loadPki, type NodePki, savePki } from "../../pki/pki-store.ts";
import { createBackoff } from "../../runtime/backoff.ts";
import type { ControllerContext } from "../../runtime/controller.ts";
import type { AgentDeps } from "../deps.ts";

export interface Credentials {
  pki: NodePki;
  /** True when Enroll ran; false when saved credentials were reused. */
  issued: boolean;
  /** From EnrollResponse (0 when reused or unset). */
  heartbeatSeconds: number;
}

/** Returns usable credentials; throws only when the controller is stopped. */
export async function obtainCredentials(deps: AgentDeps, ctx: ControllerContext): Promise<Credentials> {
  const { identity } = deps;
  const { log } = ctx;
  const loaded = loadPki(deps.stateDir, identity.instanceUuid, ctx.clock.now());
  // A certificate from another CA than the identity names (the hub's CA was replaced) would only be
  // refused: enroll with the fresh bootstrap token instead.
  const saved =
    loaded.ok && !issuedByOneOf(loaded.value.certificatePem, identity.caPem)
      ? { ok: false as const, reason: "saved certificate is not issued by the identity's CA" }
      : loaded;
  if (saved.ok) {
    log.info(
      `using the saved certificate (valid until ${saved.value.notAfter.toISOString()}); skipping Enroll`,
    );
    return { pki: saved.value, issued: false, heartbeatSeconds: 0 };
  }
  log.info(`enrolling with ${identity.platformUrl} (${saved.reason})`);
  const { keyPem, csrPem } = await createNodeKeyAndCsr(identity.instanceUuid);
  const backoff = createBackoff(deps.backoff);
  const hub = connectHub({ platformUrl: identity.platformUrl, caPem: identity.caPem });
  try {
    for (;;) {
      ctx.signal.throwIfAborted();
      try {
        const r = await hub.client.enroll(
          {
            bootstrapToken: identity.bootstrapToken,
            csrPem,
            instanceUuid: identity.instanceUuid,
            agentVersion: deps.agentVersion,
            arch: deps.arch,
          },
          { signal: ctx.signal, timeoutMs: 30_000 },
        );
        const checked = checkPki(
          {
            instanceUuid: identity.instanceUuid,
            keyPem,
            certificatePem: r.certificatePem,
            caChainPem: r.caChainPem,
          },
          ctx.clock.now(),
        );
        if (!checked.ok) throw new Error(`hub answered Enroll with unusable credentials: ${checked.reason}`);
        savePki(deps.stateDir, checked.value, ctx.clock.now());
        log.info(
          `enrolled: certificate CN=${identity.instanceUuid} valid until ${checked.value.notAfter.toISOString()}`,
        );
        return { pki: checked.value, issued: true, heartbeatSeconds: r.heartbeatIntervalSeconds };
      } catch (err) {
        ctx.signal.throwIfAborted();
        await waitBeforeRetry(ctx, "enroll", err, backoff);
      }
    }
  } finally {
    hub.close();
  }
}
