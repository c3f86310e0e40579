import { describe, expect, test } from "bun:test";
import { lstatSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type CpioEntry, writeCpio } from "./cpio.ts";
import { createExec } from "./exec.ts";

const exec = createExec();
const enc = new TextEncoder();

const sample: CpioEntry[] = [
  { kind: "file", path: "bin/busybox", mode: 0o755, data: enc.encode("#!fake busybox\n") },
  { kind: "symlink", path: "bin/sh", target: "busybox" },
  { kind: "dir", path: "bin", mode: 0o755 },
  { kind: "dir", path: "dev", mode: 0o755 },
  { kind: "chardev", path: "dev/console", mode: 0o600, major: 5, minor: 1 },
  { kind: "file", path: "etc/odd", mode: 0o644, data: enc.encode("abc") },
  { kind: "file", path: "etc/empty", mode: 0o600, data: new Uint8Array() },
  { kind: "dir", path: "etc", mode: 0o755 },
];

function withTmp<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), "cpio-test-"));
  return fn(dir).finally(() => rmSync(dir, { recursive: true, force: true }));
}

describe("writeCpio", () => {
  test("GNU cpio lists every member, sorted, with uid 0 and the fixed mtime", async () => {
    await withTmp(async (dir) => {
      const archive = join(dir, "a.cpio");
      writeFileSync(archive, writeCpio(sample, { mtime: 86400 * 365 }));
      const names = (await exec.run("cpio", ["-t", "--quiet", "-F", archive])).stdout.trim().split("\n");
      expect(names).toEqual([
        "bin",
        "bin/busybox",
        "bin/sh",
        "dev",
        "dev/console",
        "etc",
        "etc/empty",
        "etc/odd",
      ]);
      const long = (await exec.run("cpio", ["-tv", "--numeric-uid-gid", "--quiet", "-F", archive])).stdout;
      const lines = long.trim().split("\n");
      expect(lines).toHaveLength(8);
      for (const line of lines) expect(line).toMatch(/^\S+\s+\d+\s+0\s+0\s+.*Jan {2}1 {2}1971 /);
    });
  });

  test("GNU cpio extracts the same contents, modes, symlinks and device numbers", async () => {
    await withTmp(async (dir) => {
      const archive = join(dir, "a.cpio");
      const out = join(dir, "out");
      writeFileSync(archive, writeCpio(sample, { mtime: 0 }));
      await exec.run("cpio", ["-i", "-d", "--quiet", "-F", archive, "-D", out]);
      expect(readFileSync(join(out, "bin/busybox"), "utf8")).toBe("#!fake busybox\n");
      expect(statSync(join(out, "bin/busybox")).mode & 0o7777).toBe(0o755);
      expect(readFileSync(join(out, "etc/odd"), "utf8")).toBe("abc");
      expect(statSync(join(out, "etc/empty")).size).toBe(0);
      expect(statSync(join(out, "etc/empty")).mode & 0o7777).toBe(0o600);
      expect(readlinkSync(join(out, "bin/sh"))).toBe("busybox");
      const con = lstatSync(join(out, "dev/console"));
      expect(con.isCharacterDevice()).toBe(true);
      expect([Math.floor(con.rdev / 256) & 0xfff, con.rdev & 0xff]).toEqual([5, 1]);
    });
  });

  test("same entries in any order give identical bytes", () => {
    const a = writeCpio(sample, { mtime: 0 });
    const b = writeCpio([...sample].reverse(), { mtime: 0 });
    expect(Bun.hash(a)).toBe(Bun.hash(b));
    expect(a.length % 4).toBe(0);
  });

  test("ends with the TRAILER!!! record", () => {
    const a = new TextDecoder().decode(writeCpio(sample, { mtime: 0 }).slice(-128));
    expect(a).toContain("TRAILER!!!");
  });

  test.each([["/abs"], ["a/../b"], ["a//b"], ["trail/"], [""]])("rejects bad path %p", (path) => {
    expect(() => writeCpio([{ kind: "dir", path, mode: 0o755 }], { mtime: 0 })).toThrow(/cpio: bad path/);
  });

  test("rejects duplicate paths", () => {
    const d: CpioEntry = { kind: "dir", path: "x", mode: 0o755 };
    expect(() => writeCpio([d, d], { mtime: 0 })).toThrow(/duplicate path x/);
  });
});
