/**
 * Attestation challenges: an operator asks (RequestAttestation), the node's next heartbeat answer carries
 * a fresh nonce, the node signs the nonce with its observed module digests (Attest), and the hub checks
 * the signature against the node's certificate, the nonce, and the digests against the assignment.
 * Nonces live in memory: a hub restart drops open challenges (the operator asks again). Hubs sharing
 * one PostgreSQL tell each other (cluster/): a challenge opened on one and its consumption reach the
 * others, so the node gets it on whichever hub it heartbeats to.
 */
import { createPublicKey, verify } from "node:crypto";
import { attestationPayload, EVENTS } from "@powernode/proto";
import { eq } from "drizzle-orm";
import type { ClusterBus } from "../cluster/cluster-bus.ts";
import type { Db } from "../db/client.ts";
import { certificates } from "../db/schema/index.ts";
import { getDesiredState } from "../desired-state/index.ts";
import { DomainError } from "../errors.ts";
import type { EventLog } from "../events/index.ts";
import { compareObservations, type ModuleObservationInput } from "./attestation-check.ts";

/** A challenge stays answerable this long. */
export const ATTEST_NONCE_TTL_MS = 5 * 60_000;

export interface AttestationChallenges {
  /** A fresh nonce for the node (replacing an open one). */
  issue(instanceId: string, now: Date): { nonce: Uint8Array; expiresAt: Date };
  /** The open nonce for the node, if any and not expired. */
  pending(instanceId: string, now: Date): Uint8Array | undefined;
  /** Checks an answer; see the module comment. Consumes the nonce whatever the outcome. */
  answer(
    input: {
      instanceId: string;
      serial: string;
      nonce: Uint8Array;
      bootId: string;
      modules: readonly ModuleObservationInput[];
      signature: Uint8Array;
    },
    now: Date,
  ): Promise<{ verified: boolean; driftCount: number }>;
}

const equalBytes = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i]);

export function createAttestationChallenges(
  db: Db,
  events: EventLog,
  cluster?: ClusterBus,
): AttestationChallenges {
  const open = new Map<string, { nonce: Uint8Array; expires: number }>();
  const tell = (node: string, nonce: string, expires: number) =>
    cluster?.notify(db, { k: "attest", node, nonce, expires }).catch(() => undefined);
  cluster?.subscribe((m) => {
    if (m.k !== "attest") return;
    if (m.nonce === "") open.delete(m.node);
    else open.set(m.node, { nonce: Uint8Array.fromHex(m.nonce), expires: m.expires });
  });
  return {
    issue(instanceId, now) {
      const nonce = crypto.getRandomValues(new Uint8Array(32));
      const expires = now.getTime() + ATTEST_NONCE_TTL_MS;
      open.set(instanceId, { nonce, expires });
      void tell(instanceId, nonce.toHex(), expires);
      return { nonce, expiresAt: new Date(expires) };
    },
    pending(instanceId, now) {
      const c = open.get(instanceId);
      return c && c.expires > now.getTime() ? c.nonce : undefined;
    },
    async answer(input, now) {
      const c = open.get(input.instanceId);
      if (!c || c.expires <= now.getTime() || !equalBytes(c.nonce, input.nonce)) {
        throw new DomainError(
          "precondition",
          "nonce: no open attestation challenge with this nonce (expired or unknown)",
        );
      }
      open.delete(input.instanceId);
      void tell(input.instanceId, "", 0);
      const opts = { nodeId: input.instanceId, correlationId: input.bootId };
      const [cert] = await db
        .select({ pem: certificates.pem })
        .from(certificates)
        .where(eq(certificates.serial, input.serial));
      if (!cert) throw new DomainError("unauthenticated", "client certificate: not on record");
      const payload = attestationPayload(input.nonce, input.bootId, input.modules);
      const key = createPublicKey(cert.pem);
      const signed =
        key.asymmetricKeyType === "ec"
          ? verify("sha256", payload, { key, dsaEncoding: "ieee-p1363" }, input.signature)
          : verify("sha256", payload, key, input.signature);
      if (!signed) {
        await events.emit(EVENTS.attestationFailed, { reason: "bad_signature" }, opts);
        return { verified: false, driftCount: 0 };
      }
      const desired = await getDesiredState(db, input.instanceId);
      const drifts = compareObservations(desired.modules?.assignments ?? [], input.modules);
      const observedNames = new Set(input.modules.filter((m) => m.state === "mounted").map((m) => m.name));
      const missing = (desired.modules?.assignments ?? [])
        .filter((m) => !observedNames.has(m.name))
        .map((m) => m.name);
      if (drifts.length > 0) {
        await events.emitMany(
          drifts.map((d) => ({
            ...EVENTS.moduleDrift,
            payload: { ...d, attested: true, desiredVersion: Number(desired.version) },
            opts,
          })),
        );
      }
      const verified = drifts.length === 0 && missing.length === 0;
      await events.emit(
        verified ? EVENTS.attestationVerified : EVENTS.attestationFailed,
        {
          modules: input.modules.length,
          drifts: drifts.length,
          notMounted: missing,
          desiredVersion: Number(desired.version),
        },
        opts,
      );
      return { verified, driftCount: drifts.length };
    },
  };
}
