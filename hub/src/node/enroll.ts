/**
 * Enrollment: a bootstrap token (consumed atomically) plus a CSR whose CN is the instance UUID buy a
 * 90-day client certificate. The CSR is checked before the token is touched, and the token is consumed
 * in the same transaction that records the certificate, so a failed issuance leaves it usable. Like a
 * renewal (`renewal.ts`), it leaves the node at most two live certificates: the oldest live one (the one
 * in use, if any) and the new one, which revokes the other when it is first used.
 */
import { EVENTS } from "@powernode/proto";
import { and, eq, isNull } from "drizzle-orm";
import { consumeBootstrapToken } from "../auth/bootstrap-tokens.ts";
import { type IssuedCertificate, parseCsr } from "../ca/index.ts";
import { certificates, instances } from "../db/schema/index.ts";
import type { Deps } from "../deps.ts";
import { DomainError } from "../errors.ts";
import { uuidField } from "../rpc/fields.ts";
import { issueAndRecord, lockLiveCertificates, revokeSerials } from "./renewal.ts";

/** Checks an instance UUID field; returns it lowercased. */
export function assertUuid(field: string, value: string): string {
  return uuidField(field, value.trim());
}

/** What an enrollment needs. */
export interface EnrollInput {
  bootstrapToken: string;
  csrPem: string;
  instanceUuid: string;
  agentVersion: string;
  remoteIp: string | undefined;
}

/** Enrolls a node; see the module comment. */
export async function enrollNode(
  deps: Pick<Deps, "db" | "ca" | "events" | "now" | "nodeIdentity">,
  input: EnrollInput,
): Promise<IssuedCertificate & { instanceId: string }> {
  if (input.bootstrapToken === "") throw new DomainError("invalid_argument", "bootstrap_token: required");
  const instanceId = assertUuid("instance_uuid", input.instanceUuid);
  if (input.agentVersion.length > 128)
    throw new DomainError("invalid_argument", "agent_version: longer than 128");
  const parsed = await parseCsr(input.csrPem, instanceId, "csr_pem");
  if (!parsed.ok) throw new DomainError("invalid_argument", parsed.error);
  const now = deps.now();
  const issued = await deps.db.transaction(async (tx) => {
    const token = await consumeBootstrapToken(tx, input.bootstrapToken, instanceId, input.remoteIp, now);
    const live = await lockLiveCertificates(tx, instanceId, now);
    const revoked = live.slice(1).map((c) => c.serial);
    await revokeSerials(tx, revoked, now);
    const cert = await issueAndRecord(deps, tx, parsed.value, instanceId, now);
    await tx
      .update(instances)
      .set({ enrolledAt: now, agentVersion: input.agentVersion || null, updatedAt: now })
      .where(eq(instances.id, instanceId));
    return { ...cert, tokenId: token.id, revoked };
  });
  for (const serial of issued.revoked) {
    await deps.nodeIdentity.invalidateSerial(serial);
    await deps.events.emit(
      EVENTS.certificateRevoked,
      { serial, reason: "replaced by an enrollment before it was used" },
      { nodeId: instanceId },
    );
  }
  await deps.events.emit(
    EVENTS.agentEnrolled,
    {
      serial: issued.serial,
      notAfter: issued.notAfter.toISOString(),
      agentVersion: input.agentVersion,
      remoteIp: input.remoteIp ?? null,
    },
    { nodeId: instanceId, correlationId: issued.tokenId },
  );
  return {
    pem: issued.pem,
    serial: issued.serial,
    notBefore: issued.notBefore,
    notAfter: issued.notAfter,
    instanceId,
  };
}

/** Revokes one certificate (by serial); NodeService calls with it fail from the next call on. */
export async function revokeCertificate(
  deps: Pick<Deps, "db" | "events" | "now" | "nodeIdentity">,
  serial: string,
  reason: string,
): Promise<void> {
  const now = deps.now();
  const rows = await deps.db
    .update(certificates)
    .set({ revokedAt: now, updatedAt: now })
    .where(and(eq(certificates.serial, serial), isNull(certificates.revokedAt)))
    .returning({ instanceId: certificates.instanceId });
  await deps.nodeIdentity.invalidateSerial(serial);
  const row = rows[0];
  if (!row) throw new DomainError("not_found", `serial: no unrevoked certificate ${serial}`);
  await deps.events.emit(EVENTS.certificateRevoked, { serial, reason }, { nodeId: row.instanceId });
}

/** Revokes every live certificate of an instance (on delete, or an operator's RevokeNodeCertificates). */
export async function revokeInstanceCertificates(
  deps: Pick<Deps, "db" | "now" | "nodeIdentity">,
  instanceId: string,
): Promise<string[]> {
  const now = deps.now();
  const rows = await deps.db
    .update(certificates)
    .set({ revokedAt: now, updatedAt: now })
    .where(and(eq(certificates.instanceId, instanceId), isNull(certificates.revokedAt)))
    .returning({ serial: certificates.serial });
  await deps.nodeIdentity.invalidateInstance(instanceId);
  return rows.map((r) => r.serial);
}
