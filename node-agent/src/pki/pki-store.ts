/**
 * The node's enrolled credentials on disk, under `<stateDir>/pki/`:
 * `node.key` (PKCS#8, 0600), `node.crt`, `ca-chain.crt`, `meta.json`. Writes are atomic (temp + rename).
 * The certificate is written last, so a crash mid-save leaves no usable cert and the node re-enrolls.
 */
import { createPublicKey, X509Certificate } from "node:crypto";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic } from "../sys/files.ts";
import { x509 } from "./x509.ts";

/** Credentials from a successful Enroll (or RenewCertificate). */
export interface NodePki {
  instanceUuid: string;
  keyPem: string;
  certificatePem: string;
  /** Issuing CA first, root last. */
  caChainPem: string;
  notBefore: Date;
  notAfter: Date;
}

interface Meta {
  instanceUuid: string;
  notAfter: string;
  savedAt: string;
}

export type LoadPkiResult = { ok: true; value: NodePki } | { ok: false; reason: string };

/** The directory of the credentials for a state dir. */
export function pkiDir(stateDir: string): string {
  return join(stateDir, "pki");
}

/** Saves credentials atomically; the key is 0600. */
export function savePki(stateDir: string, pki: NodePki, now: Date): void {
  const dir = pkiDir(stateDir);
  const meta: Meta = {
    instanceUuid: pki.instanceUuid,
    notAfter: pki.notAfter.toISOString(),
    savedAt: now.toISOString(),
  };
  writeFileAtomic(join(dir, "node.key"), pki.keyPem, 0o600);
  writeFileAtomic(join(dir, "ca-chain.crt"), pki.caChainPem);
  writeFileAtomic(join(dir, "meta.json"), `${JSON.stringify(meta, null, 2)}\n`);
  writeFileAtomic(join(dir, "node.crt"), pki.certificatePem);
}

/**
 * Checks credentials for this instance: the certificate's CN is the instance UUID, it is valid now and
 * for at least `minRemainingMs` more, and the key matches it.
 */
export function checkPki(
  candidate: Omit<NodePki, "notBefore" | "notAfter">,
  now: Date,
  minRemainingMs = 60_000,
): LoadPkiResult {
  const { instanceUuid, keyPem, certificatePem, caChainPem } = candidate;
  try {
    const cert = new x509.X509Certificate(certificatePem);
    const cn = cert.subjectName.getField("CN")[0];
    if (cn !== instanceUuid) return { ok: false, reason: `certificate is for ${cn}, not ${instanceUuid}` };
    if (cert.notAfter.getTime() - now.getTime() < minRemainingMs)
      return { ok: false, reason: `certificate expires ${cert.notAfter.toISOString()}` };
    // Five minutes of grace for a node clock that runs behind the hub's.
    if (cert.notBefore.getTime() > now.getTime() + 300_000)
      return { ok: false, reason: `certificate is not valid before ${cert.notBefore.toISOString()}` };
    const spki = createPublicKey(keyPem).export({ type: "spki", format: "der" });
    if (!Buffer.from(cert.publicKey.rawData).equals(spki))
      return { ok: false, reason: "key does not match the certificate" };
    return {
      ok: true,
      value: {
        instanceUuid,
        keyPem,
        certificatePem,
        caChainPem,
        notBefore: cert.notBefore,
        notAfter: cert.notAfter,
      },
    };
  } catch (err) {
    return {
      ok: false,
      reason: `credentials unreadable: ${err instanceof Error ? err.message : String(err)}`,
    };
  }
}

/**
 * Whether `certificatePem` is signed by one of the CA certificates in `caPem` (a saved certificate from
 * a CA the identity no longer names, e.g. after the hub's CA was replaced, is not worth presenting).
 */
export function issuedByOneOf(certificatePem: string, caPem: string): boolean {
  try {
    const cert = new X509Certificate(certificatePem);
    const blocks = caPem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
    return blocks.some((b) => {
      const ca = new X509Certificate(b);
      return cert.checkIssued(ca) && cert.verify(ca.publicKey);
    });
  } catch {
    return false;
  }
}

/** Loads saved credentials if {@link checkPki} accepts them; otherwise says why not. */
export function loadPki(
  stateDir: string,
  instanceUuid: string,
  now: Date,
  minRemainingMs = 60_000,
): LoadPkiResult {
  const dir = pkiDir(stateDir);
  const files = ["node.key", "node.crt", "ca-chain.crt"].map((f) => join(dir, f));
  const missing = files.filter((f) => !existsSync(f));
  if (missing.length > 0) return { ok: false, reason: `no saved certificate in ${dir}` };
  const [keyPem = "", certificatePem = "", caChainPem = ""] = files.map((f) => readFileSync(f, "utf8"));
  const r = checkPki({ instanceUuid, keyPem, certificatePem, caChainPem }, now, minRemainingMs);
  return r.ok ? r : { ok: false, reason: `saved ${r.reason}` };
}

/** Removes the saved credentials (the hub revoked the certificate): the next start enrolls. */
export function removePki(stateDir: string): void {
  rmSync(pkiDir(stateDir), { recursive: true, force: true });
}
