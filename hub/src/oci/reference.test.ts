import { describe, expect, test } from "bun:test";
import {
  formatUploadRange,
  parseContentRange,
  parseDigest,
  parseName,
  parseRangeHeader,
  parseReference,
  parseTag,
} from "./reference.ts";

const HEX = "a".repeat(64);

describe("parseName", () => {
  test.each(["base", "powernode/modules/base", "a.b_c__d---e/f0", "0/1/2", "x".repeat(255)])(
    "accepts %p",
    (n) => {
      expect(parseName(n)).toEqual({ ok: true, value: n });
    },
  );
  test.each([
    "",
    "Base",
    "a//b",
    "/a",
    "a/",
    "a..b",
    "a___b",
    "-a",
    "a-",
    "_tags",
    "a/_manifests",
    "a b",
    "a:b",
    "x".repeat(256),
  ])("rejects %p", (n) => {
    expect(parseName(n).ok).toBe(false);
  });
});

describe("parseDigest", () => {
  test("accepts sha256 with 64 lowercase hex", () => {
    expect(parseDigest(`sha256:${HEX}`)).toEqual({
      ok: true,
      value: { algorithm: "sha256", hex: HEX, text: `sha256:${HEX}` },
    });
  });
  test("says when the algorithm is unsupported", () => {
    expect(parseDigest(`sha512:${"b".repeat(128)}`)).toEqual({
      ok: false,
      error: "unsupported digest algorithm sha512",
    });
  });
  test.each([
    `sha256:${"A".repeat(64)}`,
    `sha256:${HEX}0`,
    "sha256:abc",
    "sha256",
    HEX,
    "",
    `sha256:${HEX}\n`,
  ])("rejects %p", (d) => {
    expect(parseDigest(d).ok).toBe(false);
  });
});

describe("parseTag and parseReference", () => {
  test.each(["latest", "v1.2.3", "1.0.0-rc_1", "_x", "A".repeat(128)])("tag %p is valid", (t) => {
    expect(parseTag(t).ok).toBe(true);
  });
  test.each(["", ".hidden", "-x", "a/b", "a:b", "A".repeat(129), "..", "a b"])("tag %p is invalid", (t) => {
    expect(parseTag(t).ok).toBe(false);
  });
  test("a reference with ':' is a digest, else a tag", () => {
    expect(parseReference("v1")).toEqual({ ok: true, value: { kind: "tag", tag: "v1" } });
    const d = parseReference(`sha256:${HEX}`);
    expect(d.ok && d.value.kind).toBe("digest");
    expect(parseReference("md5:abc").ok).toBe(false);
  });
});

describe("parseRangeHeader", () => {
  test.each([
    [null, 100, undefined],
    ["bytes=0-9", 100, { start: 0, end: 9 }],
    ["bytes=90-", 100, { start: 90, end: 99 }],
    ["bytes=95-200", 100, { start: 95, end: 99 }],
    ["bytes=-10", 100, { start: 90, end: 99 }],
    ["bytes=-1000", 100, { start: 0, end: 99 }],
    // Ignored (RFC 9110 lets a server serve the whole representation): other units, several ranges.
    ["items=0-1", 100, undefined],
    ["bytes=0-1,5-6", 100, undefined],
  ] as const)("%p of %p bytes", (h, size, want) => {
    expect(parseRangeHeader(h, size)).toEqual({ ok: true, value: want });
  });
  test.each([
    ["bytes=100-", 100],
    ["bytes=5-2", 100],
    ["bytes=-0", 100],
    ["bytes=-", 100],
    ["bytes=0-", 0],
  ] as const)("%p of %p bytes is unsatisfiable", (h, size) => {
    expect(parseRangeHeader(h, size).ok).toBe(false);
  });
});

describe("parseContentRange", () => {
  test.each([
    ["0-99", { start: 0, end: 99 }],
    ["100-100", { start: 100, end: 100 }],
    ["bytes 5-9/10", { start: 5, end: 9 }],
    ["bytes=5-9", { start: 5, end: 9 }],
    ["bytes 5-9/*", { start: 5, end: 9 }],
  ] as const)("%p", (h, want) => {
    expect(parseContentRange(h)).toEqual({ ok: true, value: want });
  });
  test.each(["", "5", "9-5", "a-b", "-5", "0-1-2", "99999999999999999999-99999999999999999999"])(
    "rejects %p",
    (h) => {
      expect(parseContentRange(h).ok).toBe(false);
    },
  );
  test("upload progress range is inclusive, 0-0 when empty", () => {
    expect([0, 1, 100].map(formatUploadRange)).toEqual(["0-0", "0-0", "0-99"]);
  });
});
