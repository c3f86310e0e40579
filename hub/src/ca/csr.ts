/**
 * Parses and checks an untrusted PKCS#10 CSR: PEM shape, signature, key type (RSA >= 2048 or EC P-256)
 * and subject CN. Returns a result instead of throwing; the error names the field.
 */
import "reflect-metadata";
import * as x509 from "@peculiar/x509";

/** A CSR that passed every check. */
export interface ParsedCsr {
  csr: x509.Pkcs10CertificateRequest;
  commonName: string;
  keyType: "rsa" | "ec-p256";
}

/** Result of {@link parseCsr}. */
export type CsrResult = { ok: true; value: ParsedCsr } | { ok: false; error: string };

/** Largest CSR we look at; a real one is well under 4 KiB. */
const MAX_CSR_BYTES = 16 * 1024;

/**
 * Parses `pem` and checks it is a CSR for `expectedCn`.
 *
 * @param field the request field name used in error messages, e.g. "csr_pem".
 * @param what how errors name the expected CN.
 */
export async function parseCsr(
  pem: string,
  expectedCn: string,
  field = "csr_pem",
  what = "the instance UUID",
): Promise<CsrResult> {
  if (pem.length === 0) return { ok: false, error: `${field}: required` };
  if (pem.length > MAX_CSR_BYTES) return { ok: false, error: `${field}: larger than ${MAX_CSR_BYTES} bytes` };
  if (!pem.includes("-----BEGIN CERTIFICATE REQUEST-----")) {
    return { ok: false, error: `${field}: not a PEM "CERTIFICATE REQUEST"` };
  }
  let csr: x509.Pkcs10CertificateRequest;
  try {
    csr = new x509.Pkcs10CertificateRequest(pem);
  } catch {
    return { ok: false, error: `${field}: not a parseable PKCS#10 request` };
  }
  const alg = csr.publicKey.algorithm as { name: string; namedCurve?: string; modulusLength?: number };
  let keyType: ParsedCsr["keyType"];
  if (alg.name === "ECDSA" && alg.namedCurve === "P-256") keyType = "ec-p256";
  else if (alg.name === "RSASSA-PKCS1-v1_5" || alg.name === "RSA-PSS" || alg.name === "RSA-OAEP") {
    if ((alg.modulusLength ?? 0) < 2048)
      return { ok: false, error: `${field}: RSA key shorter than 2048 bits` };
    keyType = "rsa";
  } else {
    const what = alg.namedCurve ? `${alg.name} ${alg.namedCurve}` : alg.name;
    return { ok: false, error: `${field}: key type ${what} not accepted (use EC P-256 or RSA >= 2048)` };
  }
  let valid = false;
  try {
    valid = await csr.verify();
  } catch {
    valid = false;
  }
  if (!valid) return { ok: false, error: `${field}: signature does not verify` };
  const cns = csr.subjectName.getField("CN");
  if (cns.length !== 1) return { ok: false, error: `${field}: subject must have exactly one CN` };
  const commonName = cns[0] ?? "";
  if (commonName.toLowerCase() !== expectedCn.toLowerCase()) {
    return { ok: false, error: `${field}: subject CN "${commonName.slice(0, 64)}" is not ${what}` };
  }
  return { ok: true, value: { csr, commonName: expectedCn, keyType } };
}
