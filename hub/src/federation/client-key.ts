/**
 * The key a hub calls a peer with: a fresh EC P-256 key and a CSR for it (CN `peer-hub`; the peer's CA
 * sets the real subject, `peer-hub:<its peer id>`). The key is sealed before it is stored.
 */
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { toPem } from "../ca/signer.ts";

/** The CN every peer-hub CSR carries. */
export const PEER_CSR_CN = "peer-hub";

/** A fresh key (PKCS#8 PEM) and its CSR (PEM). */
export async function newPeerKey(): Promise<{ keyPem: string; csrPem: string }> {
  const alg = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;
  const keys = (await crypto.subtle.generateKey(alg, true, ["sign", "verify"])) as CryptoKeyPair;
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: `CN=${PEER_CSR_CN}`,
    keys,
    signingAlgorithm: alg,
  });
  const keyPem = toPem(await crypto.subtle.exportKey("pkcs8", keys.privateKey), "PRIVATE KEY");
  return { keyPem, csrPem: csr.toString("pem") };
}
