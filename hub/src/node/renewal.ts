/**
 * Certificate renewal, one way and bounded. RenewCertificate is granted only inside the last third of
 * the calling certificate's life (an operator lets one early renewal through by issuing a bootstrap
 * token for the node: the renewal consumes it). Issuing a certificate (renewal or Enroll) leaves at
 * most two live certificates for the node: the one in use and the new one; the one in use is revoked
 * when the new one is first used (`auth/node-identity.ts`). A caller whose successor is not yet in use
 * (its answer was lost) may ask again, but not within {@link RENEWAL_RETRY_MS} of that successor.
 */
import { EVENTS } from "@powernode/proto";
import { and, asc, eq, gt, inArray, isNull } from "drizzle-orm";
import { type IssuedCertificate, type ParsedCsr, parseCsr } from "../ca/index.ts";
import { bootstrapTokens, certificates, instances } from "../db/schema/index.ts";
import type { Deps } from "../deps.ts";
import type { Tx } from "../desired-state/index.ts";
import { DomainError } from "../errors.ts";

/** Renewal opens after this fraction of a certificate's life (the agent renews at 0.75). */
export const RENEWAL_WINDOW_FRACTION = 2 / 3;

/** A successor not yet used is replaced by a new renewal only once it is this old. */
export const RENEWAL_RETRY_MS = 60_000;

/** When renewal of a certificate valid from `notBefore` to `notAfter` becomes possible. */
export function renewalWindowOpens(cert: { notBefore: Date; notAfter: Date }): Date {
  const from = cert.notBefore.getTime();
  return new Date(from + (cert.notAfter.getTime() - from) * RENEWAL_WINDOW_FRACTION);
}

/** A live certificate row of one node. */
interface LiveCertificate {
  serial: string;
  notBefore: Date;
  notAfter: Date;
  createdAt: Date;
}

/** Locks the node's row (issuances of one node are serialised) and lists its live certificates, oldest first. */
export async function lockLiveCertificates(
  tx: Tx,
  instanceId: string,
  now: Date,
): Promise<LiveCertificate[]> {
  const [inst] = await tx
    .select({ state: instances.state })
    .from(instances)
    .where(eq(instances.id, instanceId))
    .for("update");
  if (!inst || inst.state === "deleted")
    throw new DomainError("not_found", "instance_uuid: no such instance");
  return tx
    .select({
      serial: certificates.serial,
      notBefore: certificates.notBefore,
      notAfter: certificates.notAfter,
      createdAt: certificates.createdAt,
    })
    .from(certificates)
    .where(
      and(
        eq(certificates.instanceId, instanceId),
        isNull(certificates.revokedAt),
        gt(certificates.notAfter, now),
      ),
    )
    .orderBy(asc(certificates.notBefore));
}

/** Revokes `serials` (in the issuing transaction), in one statement. */
export async function revokeSerials(tx: Tx, serials: readonly string[], now: Date): Promise<void> {
  if (serials.length === 0) return;
  await tx
    .update(certificates)
    .set({ revokedAt: now, updatedAt: now })
    .where(and(inArray(certificates.serial, [...serials]), isNull(certificates.revokedAt)));
}

/** Issues a node certificate for the CSR and records it (in the issuing transaction). */
export async function issueAndRecord(
  deps: Pick<Deps, "ca">,
  tx: Tx,
  csr: ParsedCsr,
  instanceId: string,
  now: Date,
): Promise<IssuedCertificate> {
  const cert = await deps.ca.issueNodeCertificate(csr, instanceId, now);
  await tx.insert(certificates).values({
    serial: cert.serial,
    instanceId,
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
    pem: cert.pem,
    createdAt: now,
    updatedAt: now,
  });
  return cert;
}

/** What a renewal did, for the events written after it committed. */
interface Renewed {
  cert: IssuedCertificate;
  revoked: string[];
  early: boolean;
}

/**
 * Issues a fresh certificate (same subject, new key allowed) to the node calling with `caller`; see the
 * module comment for when it is refused.
 */
export async function renewNodeCertificate(
  deps: Pick<Deps, "db" | "ca" | "events" | "now" | "nodeIdentity">,
  caller: { instanceId: string; serial: string },
  csrPem: string,
  remoteIp?: string,
): Promise<IssuedCertificate> {
  const { instanceId } = caller;
  const parsed = await parseCsr(csrPem, instanceId, "csr_pem");
  if (!parsed.ok) throw new DomainError("invalid_argument", parsed.error);
  const now = deps.now();
  const done: Renewed = await deps.db.transaction(async (tx) => {
    const live = await lockLiveCertificates(tx, instanceId, now);
    const mine = live.find((c) => c.serial === caller.serial);
    if (!mine) throw new DomainError("unauthenticated", "client certificate: revoked or expired");
    const successors = live.filter((c) => c.serial !== caller.serial && c.notBefore > mine.notBefore);
    const newest = successors.at(-1);
    if (newest && now.getTime() - newest.createdAt.getTime() < RENEWAL_RETRY_MS) {
      const from = new Date(newest.createdAt.getTime() + RENEWAL_RETRY_MS);
      throw new DomainError(
        "precondition",
        `RenewCertificate: certificate ${newest.serial} was issued to this node at ${newest.createdAt.toISOString()} and is not in use yet; use it, or renew again from ${from.toISOString()}`,
      );
    }
    const opens = renewalWindowOpens(mine);
    const early = now < opens;
    if (early && !(await consumeOverride(tx, instanceId, remoteIp, now))) {
      throw new DomainError(
        "precondition",
        `RenewCertificate: too early: the renewal window of certificate ${caller.serial} opens at ${opens.toISOString()} (the last third of its life)`,
      );
    }
    const revoked = live.filter((c) => c.serial !== caller.serial).map((c) => c.serial);
    await revokeSerials(tx, revoked, now);
    const cert = await issueAndRecord(deps, tx, parsed.value, instanceId, now);
    return { cert, revoked, early };
  });
  for (const serial of done.revoked) await deps.nodeIdentity.invalidateSerial(serial);
  await deps.events.emitMany([
    ...done.revoked.map((serial) => ({
      ...EVENTS.certificateRevoked,
      payload: { serial, reason: `replaced by a renewal of ${caller.serial} before it was used` },
      opts: { nodeId: instanceId },
    })),
    {
      ...EVENTS.certificateRenewed,
      payload: {
        serial: done.cert.serial,
        notAfter: done.cert.notAfter.toISOString(),
        previousSerial: caller.serial,
        early: done.early,
      },
      opts: { nodeId: instanceId },
    },
  ]);
  return done.cert;
}

/**
 * The operator's override of the window: an unused bootstrap token for the node (IssueBootstrapToken,
 * `pnctl instances token <id>`) already allows a fresh certificate for it, so it also allows one early
 * renewal, which consumes it.
 */
async function consumeOverride(
  tx: Tx,
  instanceId: string,
  ip: string | undefined,
  now: Date,
): Promise<boolean> {
  const rows = await tx
    .update(bootstrapTokens)
    .set({ consumedAt: now, consumedByIp: ip ?? null, updatedAt: now })
    .where(
      and(
        eq(bootstrapTokens.instanceId, instanceId),
        isNull(bootstrapTokens.consumedAt),
        isNull(bootstrapTokens.revokedAt),
        gt(bootstrapTokens.expiresAt, now),
      ),
    )
    .returning({ id: bootstrapTokens.id });
  return rows.length > 0;
}
