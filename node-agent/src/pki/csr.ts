/** The node's key pair and certificate signing request (CN = instance UUID), made with WebCrypto. */
import { EC_P256, toPem, x509 } from "./x509.ts";

export interface NodeKeyAndCsr {
  /** PKCS#8 PEM ("PRIVATE KEY"). */
  keyPem: string;
  /** PKCS#10 PEM ("CERTIFICATE REQUEST"). */
  csrPem: string;
}

/** Generates an ECDSA P-256 key and a CSR whose subject is `CN=<instanceUuid>`. */
export async function createNodeKeyAndCsr(instanceUuid: string): Promise<NodeKeyAndCsr> {
  const keys = (await crypto.subtle.generateKey(EC_P256, true, ["sign", "verify"])) as CryptoKeyPair;
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: [{ CN: [instanceUuid] }],
    keys,
    signingAlgorithm: EC_P256,
  });
  const pkcs8 = await crypto.subtle.exportKey("pkcs8", keys.privateKey);
  return { keyPem: toPem("PRIVATE KEY", pkcs8), csrPem: csr.toString("pem") };
}
