/**
 * The hub's module signing key (ECDSA P-256, made on first start, sealed at rest like the CA's) and
 * cosign's "simple signing" payload: every catalog version with an OCI digest is signed when it is
 * created, and its assignment carries the payload and signature the agent checks before it mounts
 * (decision 0041).
 */
import { generateKeyPairSync, sign } from "node:crypto";
import { eq } from "drizzle-orm";
import type { KeyAtRest } from "../ca/key-at-rest.ts";
import type { Db } from "../db/client.ts";
import { signingKeys } from "../db/schema/index.ts";

export interface ModuleSigner {
  /** SPKI PEM of the public key. */
  publicPem: string;
  /** A signature over `payload`: base64 of the DER ECDSA-SHA256 signature (what cosign writes). */
  sign(payload: Uint8Array): string;
}

/**
 * The simple-signing payload for manifest `digest` of `repository` (cosign's format: `critical`
 * identity, image digest and type; `optional` empty). Its bytes are what is signed.
 */
export function simpleSigningPayload(repository: string, digest: string): string {
  return JSON.stringify({
    critical: {
      identity: { "docker-reference": repository },
      image: { "docker-manifest-digest": digest },
      type: "cosign container image signature",
    },
    optional: {},
  });
}

const CONTEXT = "signing:modules";

/** Loads the module signing key, making and storing it on first start (first insert wins). */
export async function loadOrCreateModuleSigner(db: Db, keys: KeyAtRest): Promise<ModuleSigner> {
  const open = (row: { keyPem: string; publicPem: string }): ModuleSigner => {
    const privatePem = keys.open(row.keyPem, CONTEXT);
    return {
      publicPem: row.publicPem,
      sign: (payload) => sign("sha256", payload, { key: privatePem, dsaEncoding: "der" }).toString("base64"),
    };
  };
  const [existing] = await db.select().from(signingKeys).where(eq(signingKeys.id, "modules"));
  if (existing) return open(existing);
  const pair = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const keyPem = pair.privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  const publicPem = pair.publicKey.export({ type: "spki", format: "pem" }).toString();
  await db
    .insert(signingKeys)
    .values({ id: "modules", keyPem: keys.seal(keyPem, CONTEXT), publicPem })
    .onConflictDoNothing();
  const [row] = await db.select().from(signingKeys).where(eq(signingKeys.id, "modules"));
  if (!row) throw new Error("signing key row missing right after insert");
  return open(row);
}
