/**
 * Managed certificates, the domain side: issue (a row, then an order), renew (a new version; the old
 * one RETIRING until the switch-over grace ends), revoke (at the server, then files and rows), and
 * what a failed attempt leaves: the step, the error, the next attempt after a backoff, no version and
 * no files of the failed order.
 */
import { EVENTS } from "@powernode/proto";
import { and, asc, eq, inArray } from "drizzle-orm";
import { acmeCertificates, acmeCertificateVersions } from "../db/schema/index.ts";
import type { Deps } from "../deps.ts";
import { DomainError } from "../errors.ts";
import { isUuid } from "../rpc/fields.ts";
import { acmeClient, ensureAccount } from "./account.ts";
import { getDnsProvider, solverOf } from "./dns-providers.ts";
import { atStep, type IssuedPems, OrderError, runOrder } from "./order.ts";
import { backoffMs, renewAfterAri, renewAfterLifetime } from "./renewal-time.ts";
import { removeCertFiles, removeVersionFiles, writeVersionFiles } from "./storage.ts";

export type CertDeps = Pick<Deps, "db" | "keys" | "config" | "log" | "events" | "now">;
export type CertificateRow = typeof acmeCertificates.$inferSelect;
export type VersionRow = typeof acmeCertificateVersions.$inferSelect;
export interface CertificateView {
  cert: CertificateRow;
  versions: VersionRow[];
}

export const certKeyContext = (versionId: string): string => `acme-cert:${versionId}`;

const DOMAIN_RE = /^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const CERT_NAME_RE = /^[a-z0-9]([a-z0-9.-]{0,126}[a-z0-9])?$/;

/** Checks and normalizes the names of an order: DNS names, `*.` wildcards, 1-100, no duplicates. */
export function parseDomains(domains: readonly string[]): string[] {
  if (domains.length === 0)
    throw new DomainError("invalid_argument", "domains: at least one name is required");
  if (domains.length > 100) throw new DomainError("invalid_argument", "domains: at most 100 names");
  const out = domains.map((d) => d.trim().toLowerCase().replace(/\.$/, ""));
  for (const [i, d] of out.entries())
    if (d.length > 253 || !DOMAIN_RE.test(d))
      throw new DomainError(
        "invalid_argument",
        `domains[${i}]: "${d.slice(0, 64)}" is not a DNS name or *. wildcard`,
      );
  if (new Set(out).size !== out.length)
    throw new DomainError("invalid_argument", "domains: a name is listed twice");
  return out;
}

/** The default name of a certificate: its first domain, `*.` as `wildcard.`. */
export function defaultCertName(firstDomain: string): string {
  return firstDomain.replace(/^\*\./, "wildcard.");
}

export async function listCertificates(deps: Pick<Deps, "db">): Promise<CertificateView[]> {
  const certs = await deps.db.select().from(acmeCertificates).orderBy(asc(acmeCertificates.name));
  const versions = certs.length
    ? await deps.db
        .select()
        .from(acmeCertificateVersions)
        .where(
          inArray(
            acmeCertificateVersions.certificateId,
            certs.map((c) => c.id),
          ),
        )
        .orderBy(asc(acmeCertificateVersions.createdAt))
    : [];
  return certs.map((cert) => ({ cert, versions: versions.filter((v) => v.certificateId === cert.id) }));
}

export async function getCertificate(deps: Pick<Deps, "db">, ref: string): Promise<CertificateView> {
  const where = isUuid(ref) ? eq(acmeCertificates.id, ref) : eq(acmeCertificates.name, ref);
  const [cert] = await deps.db.select().from(acmeCertificates).where(where);
  if (!cert) throw new DomainError("not_found", `certificate: no certificate ${ref}`);
  const versions = await deps.db
    .select()
    .from(acmeCertificateVersions)
    .where(eq(acmeCertificateVersions.certificateId, cert.id))
    .orderBy(asc(acmeCertificateVersions.createdAt));
  return { cert, versions };
}

export const activeVersion = (v: CertificateView): VersionRow | undefined =>
  v.versions.find((x) => x.state === "active");

/** Orders a new certificate; the row stays (FAILED, retried by the job) when the order fails. */
export async function issueCertificate(
  deps: CertDeps,
  input: { domains: readonly string[]; dnsProvider: string; name?: string },
  signal: AbortSignal,
): Promise<CertificateView> {
  const domains = parseDomains(input.domains);
  const name = input.name || defaultCertName(domains[0] as string);
  if (!CERT_NAME_RE.test(name))
    throw new DomainError(
      "invalid_argument",
      `name: "${name.slice(0, 64)}" is not a certificate name (a-z 0-9 . -)`,
    );
  const provider = await getDnsProvider(deps, input.dnsProvider, "dns_provider");
  const rows = await deps.db
    .insert(acmeCertificates)
    .values({ name, domains, dnsProviderId: provider.id })
    .onConflictDoNothing({ target: acmeCertificates.name })
    .returning();
  const cert = rows[0];
  if (!cert) throw new DomainError("already_exists", `name: a certificate ${name} exists (renew it instead)`);
  await attemptOrder(deps, cert, signal);
  return getCertificate(deps, cert.id);
}

/** Orders the next version of a certificate now; answers the serial it replaces. */
export async function renewCertificate(
  deps: CertDeps,
  ref: string,
  signal: AbortSignal,
): Promise<{ view: CertificateView; previousSerial: string }> {
  const before = await getCertificate(deps, ref);
  await attemptOrder(deps, before.cert, signal);
  return {
    view: await getCertificate(deps, before.cert.id),
    previousSerial: activeVersion(before)?.serial ?? "",
  };
}

/**
 * One order for `cert`, stored as its new active version; on failure the row records the step and
 * the next attempt, a `failed` event is written, and the error is thrown as a DomainError.
 */
export async function attemptOrder(deps: CertDeps, cert: CertificateRow, signal: AbortSignal): Promise<void> {
  try {
    const { client } = await atStep("account", () => ensureAccount(deps));
    const provider = await atStep("dns-record", () => getDnsProvider(deps, cert.dnsProviderId));
    const solver = await atStep("dns-record", async () => solverOf(deps, provider));
    const issued = await runOrder(client, cert.domains, solver, signal, (fqdn, e) =>
      deps.log.warn("could not remove an ACME challenge record", { certificate: cert.name, fqdn, error: e }),
    );
    await atStep("store", () => storeVersion(deps, cert, issued));
  } catch (e) {
    const step = e instanceof OrderError ? e.step : "order";
    const message = e instanceof Error ? e.message : String(e);
    const failures = cert.failures + 1;
    const nextAttemptAt = new Date(deps.now().getTime() + backoffMs(failures));
    await deps.db
      .update(acmeCertificates)
      .set({
        status: cert.status === "valid" ? "valid" : "failed",
        failures,
        lastError: message,
        failedStep: step,
        nextAttemptAt,
        updatedAt: deps.now(),
      })
      .where(eq(acmeCertificates.id, cert.id));
    await deps.events.emit(EVENTS.acmeCertificateFailed, {
      certificateId: cert.id,
      name: cert.name,
      domains: cert.domains,
      step,
      error: message,
      failures,
      nextAttemptAt: nextAttemptAt.toISOString(),
    });
    throw new DomainError(
      "unavailable",
      `certificate ${cert.name}: ${message} (attempt ${failures}; next at ${nextAttemptAt.toISOString()})`,
      { cause: e },
    );
  }
}

async function nextRenewAfter(deps: CertDeps, issued: IssuedPems): Promise<{ at: Date; source: string }> {
  try {
    const { client } = await ensureAccount(deps);
    const ari = await renewAfterAri(client, issued.certPem, deps.config.acme.serverCaPem);
    if (ari) return { at: ari, source: "ari" };
  } catch (e) {
    deps.log.warn("ACME renewal information unavailable; renewing at two thirds of the lifetime", {
      error: e,
    });
  }
  return { at: renewAfterLifetime(issued.notBefore, issued.notAfter), source: "lifetime" };
}

/** Files first (whole or none), then one transaction: the new active version, the old one retiring. */
async function storeVersion(deps: CertDeps, cert: CertificateRow, issued: IssuedPems): Promise<void> {
  const renewAfter = await nextRenewAfter(deps, issued);
  writeVersionFiles(deps.config.dataDir, cert.name, issued);
  const id = crypto.randomUUID();
  const now = deps.now();
  let replaced: string[] = [];
  try {
    await deps.db.transaction(async (tx) => {
      const old = await tx
        .update(acmeCertificateVersions)
        .set({ state: "retiring", retireAt: new Date(now.getTime() + deps.config.acme.retireSeconds * 1000) })
        .where(
          and(
            eq(acmeCertificateVersions.certificateId, cert.id),
            eq(acmeCertificateVersions.state, "active"),
          ),
        )
        .returning({ serial: acmeCertificateVersions.serial });
      replaced = old.map((o) => o.serial);
      await tx.insert(acmeCertificateVersions).values({
        id,
        certificateId: cert.id,
        state: "active",
        serial: issued.serial,
        certPem: issued.certPem,
        chainPem: issued.chainPem,
        keyPem: deps.keys.seal(issued.keyPem, certKeyContext(id)),
        notBefore: issued.notBefore,
        notAfter: issued.notAfter,
      });
      await tx
        .update(acmeCertificates)
        .set({
          status: "valid",
          renewAfter: renewAfter.at,
          renewAfterSource: renewAfter.source,
          failures: 0,
          lastError: null,
          failedStep: null,
          nextAttemptAt: null,
          updatedAt: now,
        })
        .where(eq(acmeCertificates.id, cert.id));
    });
  } catch (e) {
    removeVersionFiles(deps.config.dataDir, cert.name, issued.serial);
    throw e;
  }
  const payload = {
    certificateId: cert.id,
    name: cert.name,
    domains: cert.domains,
    serial: issued.serial,
    notAfter: issued.notAfter.toISOString(),
    renewAfter: renewAfter.at.toISOString(),
    renewAfterSource: renewAfter.source,
  };
  if (replaced.length > 0)
    await deps.events.emit(EVENTS.acmeCertificateRenewed, { ...payload, previousSerials: replaced });
  else await deps.events.emit(EVENTS.acmeCertificateIssued, payload);
}

const ALREADY_REVOKED = /already revoked|alreadyRevoked/i;

/** Revokes every version at the server with `reason`, then deletes the files and rows. */
export async function revokeCertificate(
  deps: CertDeps,
  ref: string,
  reason: number,
): Promise<{ serials: string[] }> {
  if (![0, 1, 3, 4, 5].includes(reason))
    throw new DomainError(
      "invalid_argument",
      `reason: ${reason} is not a CRLReason ACME accepts (0, 1, 3, 4, 5)`,
    );
  const view = await getCertificate(deps, ref);
  const serials: string[] = [];
  if (view.versions.length > 0) {
    const { row } = await ensureAccount(deps);
    const client = acmeClient(deps, row);
    for (const v of view.versions) {
      try {
        await client.revokeCertificate(v.certPem, { reason });
      } catch (e) {
        if (!ALREADY_REVOKED.test((e as Error).message))
          throw new DomainError(
            "unavailable",
            `certificate ${view.cert.name}: revoking serial ${v.serial}: ${(e as Error).message}`,
            { cause: e },
          );
      }
      serials.push(v.serial);
    }
  }
  await deps.db.delete(acmeCertificates).where(eq(acmeCertificates.id, view.cert.id));
  removeCertFiles(deps.config.dataDir, view.cert.name);
  await deps.events.emit(EVENTS.acmeCertificateRevoked, {
    certificateId: view.cert.id,
    name: view.cert.name,
    domains: view.cert.domains,
    serials,
    reason,
  });
  return { serials };
}

/** The active version's key, opened (for the TLS listener). */
export function openKey(deps: Pick<Deps, "keys">, v: VersionRow): string {
  return deps.keys.open(v.keyPem, certKeyContext(v.id));
}
