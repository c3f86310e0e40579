/**
 * Signs X.509 certificates with one issuer (the root, or an intermediate such as the Docker CA): random
 * positive serials, authority/subject key identifiers, basic constraints, the caller's extensions.
 */
import "reflect-metadata";
import * as x509 from "@peculiar/x509";

/** Tolerate clock skew between hub and node. */
export const BACKDATE_MS = 5 * 60_000;
export const DAY_MS = 86_400_000;

/** An issued certificate. */
export interface IssuedCertificate {
  pem: string;
  /** Lowercase hex, no leading zeros stripped beyond what openssl prints. */
  serial: string;
  notBefore: Date;
  notAfter: Date;
}

/** What a certificate is for. */
export interface CertificateRequest {
  subject: string;
  publicKey: x509.PublicKeyType;
  extensions: x509.Extension[];
  notBefore: Date;
  notAfter: Date;
  /** A CA certificate (path length 0): may sign leaves only. */
  ca?: boolean;
}

/** Signs certificates as one issuer. */
export type Signer = (req: CertificateRequest) => Promise<IssuedCertificate>;

/** Normalises a serial as openssl and node:tls print it: uppercase hex without colons, stripped. */
export function normaliseSerial(serial: string): string {
  const s = serial.replace(/:/g, "").toLowerCase().replace(/^0+/, "");
  return s === "" ? "0" : s;
}

export function randomSerial(): string {
  const b = crypto.getRandomValues(new Uint8Array(16));
  // Positive INTEGER with a non-zero first byte, so no DER/openssl normalisation changes it.
  b[0] = ((b[0] ?? 0) & 0x7f) | 0x10;
  return Buffer.from(b).toString("hex");
}

/** A signer for `issuer` (its certificate) with its private key. */
export async function createSigner(
  issuer: x509.X509Certificate,
  signingKey: CryptoKey,
  signingAlgorithm: { name: string; hash: string },
): Promise<Signer> {
  const authorityKeyId = await x509.AuthorityKeyIdentifierExtension.create(issuer);
  return async (req) => {
    const serialNumber = randomSerial();
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber,
      subject: req.subject,
      issuer: issuer.subject,
      notBefore: req.notBefore,
      notAfter: req.notAfter,
      publicKey: req.publicKey,
      signingKey,
      signingAlgorithm,
      extensions: [
        authorityKeyId,
        await x509.SubjectKeyIdentifierExtension.create(req.publicKey),
        req.ca
          ? new x509.BasicConstraintsExtension(true, 0, true)
          : new x509.BasicConstraintsExtension(false, undefined, true),
        ...req.extensions,
      ],
    });
    return {
      pem: cert.toString("pem"),
      serial: normaliseSerial(serialNumber),
      notBefore: req.notBefore,
      notAfter: req.notAfter,
    };
  };
}

/** PEM text of DER bytes. */
export function toPem(der: ArrayBuffer, label: string): string {
  const b64 = Buffer.from(der).toString("base64");
  return `-----BEGIN ${label}-----\n${b64.replace(/(.{64})/g, "$1\n").replace(/\n$/, "")}\n-----END ${label}-----\n`;
}
