import { describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  createKekFile,
  createKeyAtRest,
  isSealed,
  kekFile,
  parseKek,
  readKek,
  sealedKeyId,
} from "./key-at-rest.ts";

const PEM = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIH1x\n-----END PRIVATE KEY-----\n";

describe("key at rest", () => {
  test("seal then open gives the plaintext back; the sealed text hides it and names the KEK", () => {
    const keys = createKeyAtRest(randomBytes(32), "test");
    const sealed = keys.seal(PEM, "ca:root");
    expect(isSealed(sealed)).toBe(true);
    expect(isSealed(PEM)).toBe(false);
    expect(sealed).not.toContain("PRIVATE KEY");
    expect(sealed).not.toContain("MC4CAQAwBQYDK2VwBCIEIH1x");
    expect(sealedKeyId(sealed)).toBe(keys.keyId);
    expect(keys.keyId).toMatch(/^[0-9a-f]{16}$/);
    expect(keys.open(sealed, "ca:root")).toBe(PEM);
    // A fresh IV every time.
    expect(keys.seal(PEM, "ca:root")).not.toBe(sealed);
  });

  test("refusals name the place and the reason: other row, other KEK, altered, plain, malformed", () => {
    const keys = createKeyAtRest(randomBytes(32), "test");
    const sealed = keys.seal(PEM, "network:a");
    expect(() => keys.open(sealed, "network:b")).toThrow(
      "network:b: the sealed key does not open with key-encryption key",
    );
    const other = createKeyAtRest(randomBytes(32), "/data/ca.kek");
    expect(() => other.open(sealed, "network:a")).toThrow(
      `network:a: sealed with key-encryption key ${keys.keyId}, but this hub's key (/data/ca.kek) is ${other.keyId}`,
    );
    const parts = sealed.split(":");
    const body = Buffer.from(parts[4] ?? "", "base64url");
    body[0] = (body[0] ?? 0) ^ 1;
    parts[4] = body.toString("base64url");
    expect(() => keys.open(parts.join(":"), "network:a")).toThrow("it was altered or belongs to another row");
    expect(() => keys.open(PEM, "ca:root")).toThrow("ca:root: the stored key is not sealed");
    expect(() => keys.open(`pnkey:v1:${keys.keyId}:x`, "ca:root")).toThrow(
      "ca:root: the sealed key is malformed",
    );
    expect(() => createKeyAtRest(randomBytes(16), "POWERNODE_CA_KEK")).toThrow(
      "POWERNODE_CA_KEK: the key-encryption key is 16 bytes, not 32",
    );
  });

  test("parseKek: base64 or base64url of 32 bytes; otherwise says how to make one", () => {
    const kek = randomBytes(32);
    for (const text of [kek.toString("base64"), kek.toString("base64url"), ` ${kek.toString("base64")}\n`]) {
      const r = parseKek(text);
      expect(r.ok && r.value.equals(kek)).toBe(true);
    }
    expect(parseKek(randomBytes(16).toString("base64"))).toEqual({
      ok: false,
      error: "decodes to 16 bytes, not 32 (make one with: openssl rand -base64 32)",
    });
    expect(parseKek("not base64!")).toMatchObject({
      ok: false,
      error: expect.stringContaining("not base64"),
    });
  });

  test("the KEK file: made 0600, never replaced, read back; a loose mode is refused", () => {
    const dir = mkdtempSync(join(tmpdir(), "pn-kek-"));
    try {
      expect(readKek({ dataDir: dir, envKek: undefined })).toBeUndefined();
      const made = createKekFile(dir);
      expect(statSync(kekFile(dir)).mode & 0o777).toBe(0o600);
      const before = readFileSync(kekFile(dir), "utf8");
      expect(createKekFile(dir).keyId).toBe(made.keyId);
      expect(readFileSync(kekFile(dir), "utf8")).toBe(before);
      const read = readKek({ dataDir: dir, envKek: undefined });
      expect(read?.keyId).toBe(made.keyId);
      expect(read?.open(made.seal(PEM, "ca:root"), "ca:root")).toBe(PEM);
      const env = randomBytes(32).toString("base64");
      expect(readKek({ dataDir: dir, envKek: env })?.source).toBe("POWERNODE_CA_KEK");
      chmodSync(kekFile(dir), 0o644);
      expect(() => readKek({ dataDir: dir, envKek: undefined })).toThrow(
        `${kekFile(dir)}: mode 644 lets group or others read the key-encryption key; fix: chmod 600 ${kekFile(dir)}`,
      );
      chmodSync(kekFile(dir), 0o600);
      writeFileSync(kekFile(dir), "short\n");
      expect(() => readKek({ dataDir: dir, envKek: undefined })).toThrow(`${kekFile(dir)}: decodes to`);
      expect(() => readKek({ dataDir: dir, envKek: "abc" })).toThrow("POWERNODE_CA_KEK: decodes to 2 bytes");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
