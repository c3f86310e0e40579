/**
 * The daemon's key and server certificate under `<stateDir>/docker/` (key 0600, written atomically):
 * the key is made here and never leaves the node; the hub signs its CSR. A certificate for another
 * host or address, or past 75 % of its life, is replaced.
 */
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { EC_P256, toPem, x509 } from "../../pki/x509.ts";
import { writeFileAtomic } from "../../sys/files.ts";

export interface DaemonPki {
  hostId: string;
  address: string;
  keyPem: string;
  certPem: string;
  caPem: string;
  notBefore: Date;
  notAfter: Date;
}

export const daemonPkiDir = (stateDir: string): string => join(stateDir, "docker");

export function loadDaemonPki(stateDir: string): DaemonPki | undefined {
  const dir = daemonPkiDir(stateDir);
  try {
    const meta = JSON.parse(readFileSync(join(dir, "meta.json"), "utf8")) as {
      hostId: string;
      address: string;
    };
    const certPem = readFileSync(join(dir, "server-cert.pem"), "utf8");
    const cert = new x509.X509Certificate(certPem);
    return {
      hostId: meta.hostId,
      address: meta.address,
      keyPem: readFileSync(join(dir, "server-key.pem"), "utf8"),
      certPem,
      caPem: readFileSync(join(dir, "ca.pem"), "utf8"),
      notBefore: cert.notBefore,
      notAfter: cert.notAfter,
    };
  } catch {
    return undefined;
  }
}

export function saveDaemonPki(stateDir: string, pki: DaemonPki): void {
  const dir = daemonPkiDir(stateDir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeFileAtomic(join(dir, "server-key.pem"), pki.keyPem, 0o600);
  writeFileAtomic(join(dir, "ca.pem"), pki.caPem);
  writeFileAtomic(join(dir, "server-cert.pem"), pki.certPem);
  writeFileAtomic(
    join(dir, "meta.json"),
    `${JSON.stringify({ hostId: pki.hostId, address: pki.address })}\n`,
  );
}

export function removeDaemonPki(stateDir: string): boolean {
  const dir = daemonPkiDir(stateDir);
  if (!existsSync(dir)) return false;
  rmSync(dir, { recursive: true, force: true });
  return true;
}

/** Why the saved certificate cannot serve (undefined: it can). */
export function daemonPkiProblem(
  pki: DaemonPki | undefined,
  want: { hostId: string; address: string },
  now: Date,
): string | undefined {
  if (!pki) return "no daemon certificate yet";
  if (pki.hostId !== want.hostId) return "the certificate is for another Docker host";
  if (pki.address !== want.address)
    return `the certificate names ${pki.address}, the daemon listens on ${want.address}`;
  const life = pki.notAfter.getTime() - pki.notBefore.getTime();
  if (now.getTime() >= pki.notBefore.getTime() + life * 0.75) return "the certificate is due for renewal";
  return undefined;
}

/** A fresh P-256 key and a CSR with `CN=<commonName>`. */
export async function createDaemonKeyAndCsr(commonName: string): Promise<{ keyPem: string; csrPem: string }> {
  const keys = (await crypto.subtle.generateKey(EC_P256, true, ["sign", "verify"])) as CryptoKeyPair;
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: [{ CN: [commonName] }],
    keys,
    signingAlgorithm: EC_P256,
  });
  return {
    keyPem: toPem("PRIVATE KEY", await crypto.subtle.exportKey("pkcs8", keys.privateKey)),
    csrPem: csr.toString("pem"),
  };
}
