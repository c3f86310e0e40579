/**
 * A throwaway ECDSA P-256 CA for tests (the test hub fake's TLS certificate and node certificates).
 * A test fixture, not a fake of anything: the certificates it makes are real X.509.
 */
import { EC_P256, toPem, x509 } from "../src/pki/x509.ts";

export interface TestCa {
  caPem: string;
  /** A TLS server certificate + key for the given IPs/DNS names. */
  issueServerCert(hosts: readonly string[]): Promise<{ certPem: string; keyPem: string }>;
  /** Signs a CSR (after checking its signature) as a client certificate valid `validMs` from now. */
  signCsr(
    csrPem: string,
    validMs: number,
    backdateMs?: number,
  ): Promise<{ certPem: string; cn: string; notAfter: Date }>;
}

let serial = 1;
const nextSerial = () => (serial++).toString(16).padStart(4, "0");

async function keyPair(): Promise<CryptoKeyPair> {
  return (await crypto.subtle.generateKey(EC_P256, true, ["sign", "verify"])) as CryptoKeyPair;
}

/** Creates a new CA valid for a day. */
export async function createTestCa(name = "powernode test CA"): Promise<TestCa> {
  const caKeys = await keyPair();
  const now = Date.now();
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: nextSerial(),
    name: [{ CN: [name] }],
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + 86_400_000),
    keys: caKeys,
    signingAlgorithm: EC_P256,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
    ],
  });
  const caPem = ca.toString("pem");
  const issue = async (
    subject: string,
    publicKey: CryptoKey | x509.PublicKey,
    validMs: number,
    extensions: x509.Extension[],
    backdateMs = 60_000,
  ) =>
    x509.X509CertificateGenerator.create({
      serialNumber: nextSerial(),
      subject,
      issuer: ca.subject,
      notBefore: new Date(Date.now() - backdateMs),
      notAfter: new Date(Date.now() + validMs),
      signingKey: caKeys.privateKey,
      publicKey,
      signingAlgorithm: EC_P256,
      extensions,
    });
  return {
    caPem,
    async issueServerCert(hosts) {
      const keys = await keyPair();
      const san = hosts.map((h) =>
        /^[\d.]+$/.test(h) ? { type: "ip" as const, value: h } : { type: "dns" as const, value: h },
      );
      const cert = await issue(`CN=${hosts[0] ?? "hub"}`, keys.publicKey, 86_400_000, [
        new x509.SubjectAlternativeNameExtension(san),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      ]);
      const pkcs8 = await crypto.subtle.exportKey("pkcs8", keys.privateKey);
      return { certPem: cert.toString("pem"), keyPem: toPem("PRIVATE KEY", pkcs8) };
    },
    async signCsr(csrPem, validMs, backdateMs) {
      const csr = new x509.Pkcs10CertificateRequest(csrPem);
      if (!(await csr.verify())) throw new Error("CSR signature does not verify");
      const cn = csr.subjectName.getField("CN")[0] ?? "";
      const cert = await issue(
        csr.subject,
        csr.publicKey,
        validMs,
        [
          new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]),
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        ],
        backdateMs,
      );
      return { certPem: cert.toString("pem"), cn, notAfter: cert.notAfter };
    },
  };
}
