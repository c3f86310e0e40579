/**
 * Which certificate the operator listener presents (decision 0026): the active ACME certificate that
 * covers the hub's name (the first of POWERNODE_HOSTNAMES a certificate covers), else the internal
 * CA's server certificate. `watchOperatorIdentity` re-checks when a certificate is issued, renewed or
 * revoked on this hub and every minute (another hub of an HA pair may have renewed it), and swaps the
 * listener's certificate when the answer changes.
 */
import { EVENTS } from "@powernode/proto";
import type { ServerIdentity } from "../ca/ca.ts";
import type { Deps } from "../deps.ts";
import { activeVersion, listCertificates, openKey } from "./certificates.ts";

/** The identity chosen and where it came from (logged, and the smoke checks it). */
export interface OperatorIdentity {
  /** The chain and key; the key is unsealed only when this is called (a change, or the start). */
  identity(): ServerIdentity;
  /** `acme:<certificate name>:<serial>` or `internal-ca`. */
  source: string;
}

/** True when `pattern` (a certificate domain, maybe `*.example.org`) covers `host`. */
export function domainCovers(pattern: string, host: string): boolean {
  const p = pattern.toLowerCase();
  const h = host.toLowerCase();
  if (!p.startsWith("*.")) return p === h;
  const dot = h.indexOf(".");
  return dot > 0 && h.slice(dot + 1) === p.slice(2);
}

/** The active ACME certificate for the first of `hostnames` one covers, or undefined. */
export async function acmeIdentity(
  deps: Pick<Deps, "db" | "keys">,
  hostnames: readonly string[],
): Promise<OperatorIdentity | undefined> {
  const views = await listCertificates(deps);
  for (const host of hostnames) {
    for (const view of views) {
      const active = activeVersion(view);
      if (!active || !view.cert.domains.some((d) => domainCovers(d, host))) continue;
      return {
        identity: () => ({
          certPem: `${active.certPem.trim()}\n${active.chainPem}`,
          keyPem: openKey(deps, active),
        }),
        source: `acme:${view.cert.name}:${active.serial}`,
      };
    }
  }
  return undefined;
}

/** The identity to present now: ACME when one covers the hub's name, else `fallback` (the internal CA's). */
export async function operatorIdentity(deps: Deps, fallback: ServerIdentity): Promise<OperatorIdentity> {
  return (
    (await acmeIdentity(deps, deps.config.hostnames)) ?? { identity: () => fallback, source: "internal-ca" }
  );
}

/**
 * Keeps `apply` fed with the current identity: after every ACME certificate event of this hub and every
 * `pollMs`. Returns the stop function. A failed check keeps the certificate being presented.
 */
export function watchOperatorIdentity(
  deps: Deps,
  fallback: ServerIdentity,
  current: string,
  apply: (next: OperatorIdentity) => void,
  pollMs = 60_000,
): () => void {
  const log = deps.log.child({ component: "operator-tls" });
  let presented = current;
  // One check at a time; a request during a check runs one more after it (an event mid-poll).
  let busy = false;
  let again = false;
  const check = () => {
    if (busy) {
      again = true;
      return;
    }
    busy = true;
    void operatorIdentity(deps, fallback)
      .then((next) => {
        if (next.source === presented) return;
        apply(next);
        log.info("operator listener certificate replaced", { from: presented, to: next.source });
        presented = next.source;
      })
      .catch((e: unknown) => log.warn("checking the operator listener certificate", { error: e }))
      .finally(() => {
        busy = false;
        if (again) {
          again = false;
          check();
        }
      });
  };
  const kinds = [EVENTS.acmeCertificateIssued, EVENTS.acmeCertificateRenewed, EVENTS.acmeCertificateRevoked];
  const unsubscribe = deps.events.subscribe({ kindPrefix: "system.acme.certificate." }, (e) => {
    if (kinds.some((k) => k.kind === e.kind)) check();
  });
  const timer = setInterval(check, pollMs);
  timer.unref?.();
  return () => {
    unsubscribe();
    clearInterval(timer);
  };
}
