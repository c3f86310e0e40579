import { afterEach, expect, test } from "bun:test";
import { createPublicKey, verify } from "node:crypto";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createTestCa } from "../../test/test-ca.ts";
import { createExeca } from "../sys/exec.ts";
import { createNodeKeyAndCsr } from "./csr.ts";
import { loadPki, savePki } from "./pki-store.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
/** One DER TLV at `at`: where its value starts and ends. */
function tlv(der: Buffer, at: number): { start: number; end: number } {
  const first = der[at + 1] ?? 0;
  const lenBytes = first & 0x80 ? first & 0x7f : 0;
  let len = lenBytes ? 0 : first;
  for (let i = 0; i < lenBytes; i++) len = len * 256 + (der[at + 2 + i] ?? 0);
  const start = at + 2 + lenBytes;
  return { start, end: start + len };
}

/** A PKCS#10 DER split into the signed CertificationRequestInfo and the signature bytes. */
function splitCsrDer(der: Buffer): { info: Buffer; signature: Buffer } {
  const outer = tlv(der, 0);
  const info = tlv(der, outer.start);
  const alg = tlv(der, info.end);
  const sig = tlv(der, alg.end);
  // BIT STRING: the first value byte counts unused bits (0).
  return { info: der.subarray(outer.start, info.end), signature: der.subarray(sig.start + 1, sig.end) };
}

const UUID = "3f2c6a52-8d7e-4b1a-9c3d-2e5f7a8b9c0d";

test("the CSR is ECDSA P-256, CN = instance UUID, and openssl verifies its signature", async () => {
  const { csrPem, keyPem } = await createNodeKeyAndCsr(UUID);
  expect(keyPem).toStartWith("-----BEGIN PRIVATE KEY-----\n");
  const dir = mkdtempSync(join(tmpdir(), "pn-csr-"));
  dirs.push(dir);
  writeFileSync(join(dir, "node.csr"), csrPem);
  const openssl = createExeca();
  const csrFile = join(dir, "node.csr");
  // Structured answers only (exit codes, RFC 2253 names, PEM, DER), never openssl's -text layout.
  const subject = await openssl.run("openssl", [
    "req",
    "-noout",
    "-subject",
    "-nameopt",
    "RFC2253",
    "-in",
    csrFile,
  ]);
  expect(subject.stdout.trim()).toBe(`subject=CN=${UUID}`);
  const pub = await openssl.run("openssl", ["req", "-noout", "-pubkey", "-in", csrFile]);
  expect(createPublicKey(pub.stdout).asymmetricKeyDetails?.namedCurve).toBe("prime256v1");
  // The signatureAlgorithm field closes the DER: ecdsa-with-SHA256 (OID 1.2.840.10045.4.3.2).
  const der = Buffer.from(csrPem.replace(/-----[^-]+-----|\s/g, ""), "base64");
  expect(der.includes(Buffer.from("06082a8648ce3d040302", "hex"))).toBe(true);
  // openssl 3.0 exits 0 even when `req -verify` fails, so the signature is checked from the DER with
  // the public key openssl extracted: valid as made, invalid with one flipped bit.
  const { info, signature } = splitCsrDer(der);
  const key = createPublicKey(pub.stdout);
  expect(verify("sha256", info, key, signature)).toBe(true);
  const flipped = Buffer.from(signature);
  flipped[flipped.length - 1] = (flipped[flipped.length - 1] ?? 0) ^ 1;
  expect(verify("sha256", info, key, flipped)).toBe(false);
}, 30_000);

test("saved credentials are reused only when they fit the instance and are not expiring", async () => {
  const ca = await createTestCa();
  const { csrPem, keyPem } = await createNodeKeyAndCsr(UUID);
  const { certPem } = await ca.signCsr(csrPem, 3_600_000);
  const dir = mkdtempSync(join(tmpdir(), "pn-pki-"));
  dirs.push(dir);
  const now = new Date();
  expect(loadPki(dir, UUID, now)).toEqual({ ok: false, reason: `no saved certificate in ${dir}/pki` });
  savePki(
    dir,
    {
      instanceUuid: UUID,
      keyPem,
      certificatePem: certPem,
      caChainPem: ca.caPem,
      notBefore: now,
      notAfter: now,
    },
    now,
  );
  expect(statSync(join(dir, "pki/node.key")).mode & 0o777).toBe(0o600);
  expect(statSync(join(dir, "pki")).mode & 0o777).toBe(0o700);
  const ok = loadPki(dir, UUID, now);
  expect(ok.ok && ok.value.certificatePem).toBe(certPem);
  const other = loadPki(dir, "00000000-0000-4000-8000-000000000000", now);
  expect(!other.ok && other.reason).toBe(
    `saved certificate is for ${UUID}, not 00000000-0000-4000-8000-000000000000`,
  );
  const later = loadPki(dir, UUID, new Date(now.getTime() + 3_600_000));
  expect(!later.ok && later.reason).toStartWith("saved certificate expires ");
  // A key that does not belong to the certificate.
  savePki(
    dir,
    {
      instanceUuid: UUID,
      keyPem: (await createNodeKeyAndCsr(UUID)).keyPem,
      certificatePem: certPem,
      caChainPem: ca.caPem,
      notBefore: now,
      notAfter: now,
    },
    now,
  );
  const mismatch = loadPki(dir, UUID, now);
  expect(!mismatch.ok && mismatch.reason).toBe("saved key does not match the certificate");
}, 30_000);
