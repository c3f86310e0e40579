/**
 * The renewal job's pass: delete versions whose switch-over grace is over, renew certificates whose
 * renew-after has come, retry failed ones whose backoff is over. Each attempt's failure is recorded
 * on its certificate (certificates.ts); the pass goes on with the next.
 */
import { EVENTS } from "@powernode/proto";
import { and, eq, inArray, isNotNull, isNull, lte, or } from "drizzle-orm";
import { acmeCertificates, acmeCertificateVersions } from "../db/schema/index.ts";
import { attemptOrder, type CertDeps } from "./certificates.ts";
import { removeVersionFiles } from "./storage.ts";

export const RENEWAL_JOB = "acme-renewal";

export interface RenewalPassResult {
  retired: string[];
  renewed: string[];
  failed: string[];
}

export async function runRenewalPass(
  deps: CertDeps,
  signal: AbortSignal,
  now: Date = deps.now(),
): Promise<RenewalPassResult> {
  const result: RenewalPassResult = { retired: [], renewed: [], failed: [] };
  const retiring = await deps.db
    .select({ v: acmeCertificateVersions, name: acmeCertificates.name })
    .from(acmeCertificateVersions)
    .innerJoin(acmeCertificates, eq(acmeCertificates.id, acmeCertificateVersions.certificateId))
    .where(and(eq(acmeCertificateVersions.state, "retiring"), lte(acmeCertificateVersions.retireAt, now)));
  if (retiring.length > 0) {
    await deps.db.delete(acmeCertificateVersions).where(
      inArray(
        acmeCertificateVersions.id,
        retiring.map((r) => r.v.id),
      ),
    );
    for (const r of retiring) {
      removeVersionFiles(deps.config.dataDir, r.name, r.v.serial);
      result.retired.push(r.v.serial);
      await deps.events.emit(EVENTS.acmeCertificateRetired, {
        certificateId: r.v.certificateId,
        name: r.name,
        serial: r.v.serial,
      });
    }
  }
  if (!deps.config.acme.directoryUrl) return result;
  const due = await deps.db
    .select()
    .from(acmeCertificates)
    .where(
      or(
        and(isNotNull(acmeCertificates.nextAttemptAt), lte(acmeCertificates.nextAttemptAt, now)),
        and(
          isNull(acmeCertificates.nextAttemptAt),
          eq(acmeCertificates.status, "valid"),
          lte(acmeCertificates.renewAfter, now),
        ),
      ),
    );
  for (const cert of due) {
    if (signal.aborted) break;
    try {
      await attemptOrder(deps, cert, signal);
      result.renewed.push(cert.name);
    } catch {
      // Recorded on the row and as a failed event by attemptOrder.
      result.failed.push(cert.name);
    }
  }
  return result;
}
