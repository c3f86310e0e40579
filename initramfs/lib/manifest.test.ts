import { describe, expect, test } from "bun:test";
import { formatSha256Sums, hashInputs, listFiles, sha256Hex } from "./manifest.ts";

describe("manifest", () => {
  test("SHA256SUMS is sha256sum's format, sorted by name", () => {
    expect(formatSha256Sums({ z: "b".repeat(64), kernel: "a".repeat(64) })).toBe(
      `${"a".repeat(64)}  kernel\n${"b".repeat(64)}  z\n`,
    );
  });

  test("input hash ignores key order and sees every value", () => {
    expect(hashInputs({ a: 1, b: { c: [1, 2] } })).toBe(hashInputs({ b: { c: [1, 2] }, a: 1 }));
    expect(hashInputs({ a: 1, b: { c: [1, 2] } })).not.toBe(hashInputs({ a: 1, b: { c: [2, 1] } }));
  });

  test("listFiles gives path, kind, octal mode, size and sha256 or target, sorted", () => {
    const data = new TextEncoder().encode("hi");
    expect(
      listFiles([
        { kind: "symlink", path: "init", target: "bin/powernode-agent" },
        { kind: "file", path: "bin/x", mode: 0o755, data },
        { kind: "chardev", path: "dev/console", mode: 0o600, major: 5, minor: 1 },
      ]),
    ).toEqual([
      { path: "bin/x", kind: "file", mode: "755", size: 2, sha256: sha256Hex(data) },
      { path: "dev/console", kind: "chardev", mode: "600", size: 0, target: "5:1" },
      { path: "init", kind: "symlink", mode: "777", size: 19, target: "bin/powernode-agent" },
    ]);
  });
});
