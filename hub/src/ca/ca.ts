/**
 * The hub's internal CA. The root is an RSA-2048 key and self-signed certificate made by node-forge on
 * first start and kept in the `ca` table. Leaves (node client certificates from CSRs, and the hub's own
 * TLS server certificate) are issued with @peculiar/x509 over WebCrypto, because the agent's keys are
 * EC P-256 and forge cannot encode or sign certificates for EC public keys. The root key is stored
 * sealed (key-at-rest.ts) and opened only in memory.
 */
import "reflect-metadata";
import { createPrivateKey, X509Certificate as NodeX509Certificate } from "node:crypto";
import { isIP } from "node:net";
import * as x509 from "@peculiar/x509";
import { eq } from "drizzle-orm";
import forge from "node-forge";
import type { Db } from "../db/client.ts";
import { ca as caTable } from "../db/schema/index.ts";
import type { ParsedCsr } from "./csr.ts";
import type { KeyAtRest } from "./key-at-rest.ts";
import { BACKDATE_MS, createSigner, DAY_MS, type IssuedCertificate, randomSerial, toPem } from "./signer.ts";
import { CA_KEY_CONTEXT } from "./stored-keys.ts";

/** Node certificates live 90 days (renewed by the agent at 75 %). */
export const NODE_CERT_DAYS = 90;

/** A peer hub's client certificate lives a year (a peering is re-made, not renewed, for now). */
export const PEER_HUB_CERT_DAYS = 365;

export { type IssuedCertificate, normaliseSerial } from "./signer.ts";

/** The hub's own TLS server identity for the mTLS listener. */
export interface ServerIdentity {
  certPem: string;
  keyPem: string;
}

/** The CA's operations. */
export interface CertificateAuthority {
  /** PEM of the root certificate (what nodes trust, from fw-cfg). */
  readonly certPem: string;
  /** Issues a clientAuth certificate with CN = `instanceId` for the CSR's public key. */
  issueNodeCertificate(csr: ParsedCsr, instanceId: string, now?: Date): Promise<IssuedCertificate>;
  /**
   * Issues a clientAuth certificate to a federation peer hub (CN = `peer-hub:<peerId>`, SAN
   * `urn:powernode:peer-hub:<peerId>`) for the CSR's public key, valid {@link PEER_HUB_CERT_DAYS}.
   */
  issuePeerHubCertificate(csr: ParsedCsr, peerId: string, now?: Date): Promise<IssuedCertificate>;
  /** Makes a fresh P-256 key and a serverAuth certificate with the given names as SANs. */
  issueServerCertificate(names: string[]): Promise<ServerIdentity>;
  /** Issues an intermediate CA certificate (path length 0) for `publicKey`, valid `days`. */
  issueIntermediate(commonName: string, publicKey: CryptoKey, days: number): Promise<IssuedCertificate>;
}

function makeRootWithForge(): { keyPem: string; certPem: string } {
  const keys = forge.pki.rsa.generateKeyPair({ bits: 2048, e: 0x10001 });
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = randomSerial();
  cert.validity.notBefore = new Date(Date.now() - BACKDATE_MS);
  cert.validity.notAfter = new Date(Date.now() + 10 * 365 * DAY_MS);
  const attrs = [
    { name: "commonName", value: "powernode internal CA" },
    { name: "organizationName", value: "powernode" },
  ];
  cert.setSubject(attrs);
  cert.setIssuer(attrs);
  cert.setExtensions([
    { name: "basicConstraints", cA: true, critical: true },
    { name: "keyUsage", keyCertSign: true, cRLSign: true, critical: true },
    { name: "subjectKeyIdentifier" },
  ]);
  cert.sign(keys.privateKey, forge.md.sha256.create());
  return { keyPem: forge.pki.privateKeyToPem(keys.privateKey), certPem: forge.pki.certificateToPem(cert) };
}

/** forge writes PKCS#1 ("RSA PRIVATE KEY"); WebCrypto wants PKCS#8. */
function rsaKeyPemToPkcs8(keyPem: string): ArrayBuffer {
  const key = forge.pki.privateKeyFromPem(keyPem);
  const info = forge.pki.wrapRsaPrivateKey(forge.pki.privateKeyToAsn1(key));
  const der = Buffer.from(forge.asn1.toDer(info).getBytes(), "binary");
  return der.buffer.slice(der.byteOffset, der.byteOffset + der.byteLength) as ArrayBuffer;
}

const SIGNING_ALG = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" } as const;

/** Wraps a stored root (PEM key + cert) as a CertificateAuthority. */
export async function createCertificateAuthority(root: {
  keyPem: string;
  certPem: string;
}): Promise<CertificateAuthority> {
  const caCert = new x509.X509Certificate(root.certPem);
  const signingKey = await crypto.subtle.importKey(
    "pkcs8",
    rsaKeyPemToPkcs8(root.keyPem),
    SIGNING_ALG,
    false,
    ["sign"],
  );
  // Sanity check the pair once, so a corrupted row fails at start rather than at the first enrollment.
  if (!new NodeX509Certificate(root.certPem).checkPrivateKey(createPrivateKey(root.keyPem))) {
    throw new Error("CA key does not match the CA certificate");
  }

  const sign = await createSigner(caCert, signingKey, SIGNING_ALG);
  const issue = (
    subject: string,
    publicKey: x509.PublicKeyType,
    extensions: x509.Extension[],
    notBefore: Date,
    notAfter: Date,
  ) => sign({ subject, publicKey, extensions, notBefore, notAfter });

  return {
    certPem: root.certPem,
    async issueNodeCertificate(parsed, instanceId, now = new Date()) {
      const usages =
        parsed.keyType === "rsa"
          ? x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment
          : x509.KeyUsageFlags.digitalSignature;
      return issue(
        `CN=${instanceId}`,
        parsed.csr.publicKey,
        [
          new x509.KeyUsagesExtension(usages, true),
          new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]),
          new x509.SubjectAlternativeNameExtension([{ type: "url", value: `urn:uuid:${instanceId}` }]),
        ],
        new Date(now.getTime() - BACKDATE_MS),
        new Date(now.getTime() + NODE_CERT_DAYS * DAY_MS),
      );
    },
    async issuePeerHubCertificate(parsed, peerId, now = new Date()) {
      const usages =
        parsed.keyType === "rsa"
          ? x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment
          : x509.KeyUsageFlags.digitalSignature;
      return issue(
        `CN=peer-hub:${peerId}`,
        parsed.csr.publicKey,
        [
          new x509.KeyUsagesExtension(usages, true),
          new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]),
          new x509.SubjectAlternativeNameExtension([
            { type: "url", value: `urn:powernode:peer-hub:${peerId}` },
          ]),
        ],
        new Date(now.getTime() - BACKDATE_MS),
        new Date(now.getTime() + PEER_HUB_CERT_DAYS * DAY_MS),
      );
    },
    async issueServerCertificate(names) {
      const keys = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
        "sign",
        "verify",
      ]);
      const sans = [...new Set(names)].map((n) => ({
        type: isIP(n) ? ("ip" as const) : ("dns" as const),
        value: n,
      }));
      const now = Date.now();
      const issued = await issue(
        "CN=powernode hub",
        keys.publicKey,
        [
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
          new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
          new x509.SubjectAlternativeNameExtension(sans),
        ],
        new Date(now - BACKDATE_MS),
        new Date(now + 365 * DAY_MS),
      );
      const keyPem = toPem(await crypto.subtle.exportKey("pkcs8", keys.privateKey), "PRIVATE KEY");
      return { certPem: issued.pem, keyPem };
    },
    async issueIntermediate(commonName, publicKey, days) {
      const now = Date.now();
      return sign({
        subject: `CN=${commonName}, O=powernode`,
        publicKey,
        ca: true,
        extensions: [
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        ],
        notBefore: new Date(now - BACKDATE_MS),
        notAfter: new Date(now + days * DAY_MS),
      });
    },
  };
}

/**
 * Loads the CA from the database, making and storing it on first start (race-safe: first insert wins).
 * The key is stored sealed with `keys` (key-at-rest.ts) and opened here, once per start.
 */
export async function loadOrCreateCa(db: Db, keys: KeyAtRest): Promise<CertificateAuthority> {
  const open = (row: { keyPem: string; certPem: string }) =>
    createCertificateAuthority({ keyPem: keys.open(row.keyPem, CA_KEY_CONTEXT), certPem: row.certPem });
  const [existing] = await db.select().from(caTable).where(eq(caTable.id, "root"));
  if (existing) return open(existing);
  const made = makeRootWithForge();
  await db
    .insert(caTable)
    .values({ id: "root", certPem: made.certPem, keyPem: keys.seal(made.keyPem, CA_KEY_CONTEXT) })
    .onConflictDoNothing();
  const [row] = await db.select().from(caTable).where(eq(caTable.id, "root"));
  if (!row) throw new Error("CA row missing right after insert");
  return open(row);
}
