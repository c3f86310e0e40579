/**
 * `credentials`: the node certificate and the mTLS connection that uses it. Saved credentials are
 * reused if still good, otherwise a fresh key + CSR is traded for a certificate with Enroll (retried
 * with backoff). Then, at 75 % of each certificate's lifetime, RenewCertificate over the current
 * connection: the new credentials are saved and the connection is replaced (loops on the old one
 * reconnect). If the certificate runs out first, the next start falls back to Enroll (which needs a
 * fresh bootstrap token). When the hub refuses the certificate in use as revoked (HubRefusal, from
 * `heartbeat`), the saved credentials are dropped and the node enrolls again with its identity's token.
 */

import { describeError } from "../../hub/describe-error.ts";
import { connectHub, createHubLink, type HubLink } from "../../hub/hub-client.ts";
import { waitBeforeRetry } from "../../hub/retry.ts";
import { removePki } from "../../pki/pki-store.ts";
import { createBackoff } from "../../runtime/backoff.ts";
import type { Controller } from "../../runtime/controller.ts";
import { PHASES } from "../../runtime/phases.ts";
import type { AgentDeps } from "../deps.ts";
import { HubConnection, HubCredentials, HubRefusal } from "../resources.ts";
import { obtainCredentials } from "./enroll.ts";
import { renewalTime, renewOnce, retryTimeOf, sleepUntil, sleepUntilOr } from "./renew.ts";

export function credentialsController(deps: AgentDeps): Controller {
  return {
    name: "credentials",
    inputs: [HubRefusal],
    outputs: [HubCredentials, HubConnection],
    async run(ctx) {
      const first = await obtainCredentials(deps, ctx);
      deps.phases.record(PHASES.agentEnrolled, {
        payload: {
          certificate: first.issued ? "issued" : "reused",
          notAfter: first.pki.notAfter.toISOString(),
        },
      });
      let pki = first.pki;
      let issued = first.issued;
      let renewals = 0;
      // A scaled-out hub: every URL, tried in turn when the current one stops answering (heartbeat).
      const urls = deps.identity.platformUrls ?? [deps.identity.platformUrl];
      let at = 0;
      const connect = () =>
        connectHub({
          platformUrl: urls[at] ?? deps.identity.platformUrl,
          caPem: deps.identity.caPem,
          clientCert: pki,
        });
      const nextHub = () => {
        at = (at + 1) % urls.length;
        ctx.log.warn(`moving to hub ${urls[at]}`);
        ctx.condition(true, "FailedOver", `connected to ${urls[at]}`);
        return connect();
      };
      const link: HubLink = createHubLink(connect(), urls.length > 1 ? nextHub : undefined);
      const publish = () => {
        ctx.set(HubCredentials, "node", {
          pki,
          issued,
          heartbeatSeconds: first.heartbeatSeconds,
          renewals,
        });
        ctx.set(HubConnection, "node", { link, generation: link.generation() });
      };
      publish();
      ctx.condition(true, first.issued ? "Enrolled" : "Reused", `valid until ${pki.notAfter.toISOString()}`);
      const backoff = createBackoff(deps.backoff);
      const minInterval = deps.renewal?.minIntervalMs ?? 60_000;
      let last: number | undefined;
      try {
        const refused = () => {
          const r = ctx.get(HubRefusal, "node")?.spec;
          return r && r.generation === link.generation() ? r : undefined;
        };
        while (!ctx.signal.aborted) {
          const due = renewalTime(pki, deps.renewal?.fraction).getTime();
          await sleepUntilOr(ctx, last === undefined ? due : Math.max(due, last + minInterval), refused);
          if (ctx.signal.aborted) return;
          const refusal = refused();
          if (refusal) {
            ctx.log.warn(`the hub refused this node's certificate (${refusal.message}): enrolling again`);
            ctx.condition(false, "Revoked", refusal.message);
            removePki(deps.stateDir);
            const again = await obtainCredentials(deps, ctx);
            pki = again.pki;
            issued = again.issued;
            link.replace(connect());
            publish();
            ctx.condition(
              true,
              "Enrolled",
              `again after a revocation; valid until ${pki.notAfter.toISOString()}`,
            );
            continue;
          }
          try {
            pki = await renewOnce(deps, ctx, link, pki);
            renewals++;
            last = ctx.clock.now().getTime();
            link.replace(connect());
            publish();
            ctx.log.info(`certificate renewed: valid until ${pki.notAfter.toISOString()}`);
            ctx.condition(true, "Renewed", `valid until ${pki.notAfter.toISOString()}`);
            backoff.reset();
          } catch (err) {
            if (ctx.signal.aborted) return;
            ctx.condition(false, "RenewalFailed", err instanceof Error ? err.message : String(err));
            // The current certificate stays in use; a refusal naming a time is retried then.
            const at = retryTimeOf(err, ctx.clock.now(), pki.notAfter);
            if (at) {
              ctx.log.warn(
                `certificate renewal: hub refused (${describeError(err)}), retrying at ${at.toISOString()}`,
              );
              await sleepUntil(ctx, at.getTime());
            } else await waitBeforeRetry(ctx, "certificate renewal", err, backoff);
          }
        }
      } finally {
        link.close();
      }
    },
  };
}
