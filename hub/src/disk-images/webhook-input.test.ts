import { describe, expect, test } from "bun:test";
import { parseReport, signatureMatches, signBody } from "./webhook-input.ts";

const enc = (o: unknown) => new TextEncoder().encode(JSON.stringify(o));
const good = {
  platform_name: "rpi4",
  git_sha: "a".repeat(40),
  sha256: "b".repeat(64),
  size_bytes: 134217728,
  oci_ref: "registry.example.com:5000/disk-images/rpi4:smoke-1",
  firmware_ref: "1.20240306",
  arch: "arm64",
};

describe("the webhook's edge", () => {
  test("signature: hex with or without sha256=, any case; anything else is false", () => {
    const body = enc(good);
    const sig = signBody("pndis_secret", body);
    expect(signatureMatches("pndis_secret", body, sig)).toBe(true);
    expect(signatureMatches("pndis_secret", body, `sha256=${sig.toUpperCase()}`)).toBe(true);
    expect(signatureMatches("pndis_other", body, sig)).toBe(false);
    expect(signatureMatches("pndis_secret", enc({ ...good, size_bytes: 1 }), sig)).toBe(false);
    for (const bad of [undefined, null, "", "zz", sig.slice(1), `${sig}00`, "g".repeat(64)])
      expect(signatureMatches("pndis_secret", body, bad)).toBe(false);
  });

  test("a good report; arch defaults from the platform", () => {
    const r = parseReport(enc(good));
    expect(r).toEqual({
      ok: true,
      value: {
        platform: "rpi4",
        gitSha: good.git_sha,
        sha256: good.sha256,
        sizeBytes: 134217728,
        ociRef: good.oci_ref,
        firmwareRef: "1.20240306",
        arch: "arm64",
      },
    });
    const { arch: _a, firmware_ref: _f, ...minimal } = good;
    expect(parseReport(enc({ ...minimal, platform_name: "x86-efi" }))).toMatchObject({
      ok: true,
      value: { arch: "amd64", firmwareRef: "" },
    });
  });

  test("each bad field is named; an unknown platform has its own reason", () => {
    const cases: [unknown, string][] = [
      ["{", "body: not UTF-8 JSON"],
      [[1], "body: not a JSON object"],
      [{ ...good, platform_name: undefined }, "platform_name: missing"],
      [{ ...good, git_sha: "A".repeat(40) }, "git_sha:"],
      [{ ...good, sha256: "b".repeat(63) }, "sha256:"],
      [{ ...good, size_bytes: -1 }, "size_bytes:"],
      [{ ...good, size_bytes: "1" }, "size_bytes:"],
      [{ ...good, oci_ref: "https://x/y:z" }, "oci_ref:"],
      [{ ...good, oci_ref: "host/repo" }, "oci_ref:"],
      [{ ...good, firmware_ref: "a b" }, "firmware_ref:"],
      [{ ...good, arch: "amd64" }, 'arch: "amd64" is not arm64'],
    ];
    for (const [doc, message] of cases) {
      const body = typeof doc === "string" ? new TextEncoder().encode(doc) : enc(doc);
      const r = parseReport(body);
      expect(r.ok).toBe(false);
      if (!r.ok) {
        expect(r.reason).toBe("invalid_payload");
        expect(r.message).toStartWith(message);
      }
    }
    const unknown = parseReport(enc({ ...good, platform_name: "pdp11" }));
    expect(unknown).toMatchObject({ ok: false, reason: "unknown_platform" });
    expect(parseReport(new Uint8Array([0xff, 0xfe]))).toMatchObject({ ok: false, reason: "invalid_payload" });
  });
});
