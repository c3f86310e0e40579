import { describe, expect, test } from "bun:test";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { run } from "../../../scripts/lib/exec.ts";
import { parseDomains } from "./certificates.ts";
import { ariCertId, backoffMs, renewAfterLifetime } from "./renewal-time.ts";

describe("renewal times", () => {
  const nb = new Date("2026-01-01T00:00:00Z");
  const na = new Date("2026-03-31T00:00:00Z"); // 89 days
  const life = na.getTime() - nb.getTime();

  test("two thirds into the lifetime, jitter within ±1/30 of it", () => {
    expect(renewAfterLifetime(nb, na, () => 0.5).getTime()).toBe(nb.getTime() + (life * 2) / 3);
    expect(renewAfterLifetime(nb, na, () => 0).getTime()).toBe(nb.getTime() + (life * 2) / 3 - life / 30);
    expect(renewAfterLifetime(nb, na, () => 1).getTime()).toBe(nb.getTime() + (life * 2) / 3 + life / 30);
  });

  test("backoff doubles from a minute, capped at six hours, ±20 %", () => {
    expect([1, 2, 3].map((n) => backoffMs(n, () => 0.5))).toEqual([60_000, 120_000, 240_000]);
    expect(backoffMs(30, () => 0.5)).toBe(6 * 3600_000);
    expect(backoffMs(1, () => 0)).toBe(48_000);
    expect(backoffMs(1, () => 1)).toBe(72_000);
  });
});

describe("ariCertId (RFC 9773 section 4.1)", () => {
  test("base64url of the AKI key identifier and of the serial's DER bytes, as openssl shows them", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pn-ari-"));
    try {
      const ca = join(dir, "ca");
      await run("openssl", [
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        `${ca}.key`,
        "-out",
        `${ca}.pem`,
        "-days",
        "1",
        "-subj",
        "/CN=ari test ca",
      ]);
      const leaf = join(dir, "leaf");
      writeFileSync(`${leaf}.ext`, "authorityKeyIdentifier=keyid\n");
      await run("openssl", [
        "req",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        `${leaf}.key`,
        "-out",
        `${leaf}.csr`,
        "-subj",
        "/CN=leaf",
      ]);
      await run("openssl", [
        "x509",
        "-req",
        "-in",
        `${leaf}.csr`,
        "-CA",
        `${ca}.pem`,
        "-CAkey",
        `${ca}.key`,
        "-set_serial",
        "0x87654321",
        "-days",
        "1",
        "-out",
        `${leaf}.pem`,
        "-extfile",
        `${leaf}.ext`,
      ]);
      const pem = readFileSync(`${leaf}.pem`, "utf8");
      const text = (
        await run("openssl", ["x509", "-in", `${leaf}.pem`, "-noout", "-ext", "authorityKeyIdentifier"])
      ).stdout;
      const akiHex = (text.match(/([0-9A-F]{2}(?::[0-9A-F]{2})+)/)?.[1] ?? "").replace(/:/g, "");
      const [aki, serial] = ariCertId(pem).split(".");
      expect(
        Buffer.from(aki ?? "", "base64url")
          .toString("hex")
          .toUpperCase(),
      ).toBe(akiHex);
      // 0x87654321 has its high bit set: DER prepends a zero byte.
      expect(Buffer.from(serial ?? "", "base64url").toString("hex")).toBe("0087654321");
      expect(new X509Certificate(pem).serialNumber).toBe("87654321");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("parseDomains", () => {
  test("names and wildcards, lower-cased, trailing dot dropped", () => {
    expect(parseDomains(["Hub.Example.Test.", "*.nodes.example.test"])).toEqual([
      "hub.example.test",
      "*.nodes.example.test",
    ]);
  });
  test("bad names name the index", () => {
    expect(() => parseDomains([])).toThrow(/domains: at least one/);
    expect(() => parseDomains(["ok.test", "bad_name.test"])).toThrow(/domains\[1\]/);
    expect(() => parseDomains(["a.*.test"])).toThrow(/domains\[0\]/);
    expect(() => parseDomains(["a.test", "A.test"])).toThrow(/twice/);
  });
});
