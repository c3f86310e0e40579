import { afterEach, expect, test } from "bun:test";
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
const UUID = "3f2c6a52-8d7e-4b1a-9c3d-2e5f7a8b9c0d";

test("the CSR is ECDSA P-256, CN = instance UUID, and openssl verifies its signature", async () => {
  const { csrPem, keyPem } = await createNodeKeyAndCsr(UUID);
  expect(keyPem).toStartWith("-----BEGIN PRIVATE KEY-----\n");
  const dir = mkdtempSync(join(tmpdir(), "pn-csr-"));
  dirs.push(dir);
  writeFileSync(join(dir, "node.csr"), csrPem);
  const openssl = createExeca();
  const v = await openssl.run("openssl", ["req", "-verify", "-noout", "-in", join(dir, "node.csr")]);
  expect(v.stdout + v.stderr).toContain("verify OK");
  const text = await openssl.run("openssl", ["req", "-noout", "-text", "-in", join(dir, "node.csr")]);
  expect(text.stdout).toContain(`Subject: CN=${UUID}`);
  expect(text.stdout).toContain("ASN1 OID: prime256v1");
  expect(text.stdout).toContain("ecdsa-with-SHA256");
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
