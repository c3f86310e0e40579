import { expect, test } from "bun:test";
import { createTestCa } from "../../test/test-ca.ts";
import { createNodeKeyAndCsr } from "./csr.ts";
import { issuedByOneOf } from "./pki-store.ts";

test("issuedByOneOf: the issuing CA among several, not another CA, not garbage", async () => {
  const ca = await createTestCa();
  const other = await createTestCa();
  const { csrPem } = await createNodeKeyAndCsr(crypto.randomUUID());
  const signed = await ca.signCsr(csrPem, 3_600_000);
  expect(issuedByOneOf(signed.certPem, ca.caPem)).toBe(true);
  expect(issuedByOneOf(signed.certPem, `${other.caPem}\n${ca.caPem}`)).toBe(true);
  expect(issuedByOneOf(signed.certPem, other.caPem)).toBe(false);
  expect(issuedByOneOf(signed.certPem, "not a PEM")).toBe(false);
  expect(issuedByOneOf("not a PEM", ca.caPem)).toBe(false);
});
