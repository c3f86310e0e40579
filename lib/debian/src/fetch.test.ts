// Real apt: the index of the machine's lists, `apt-get download` of a small package, dpkg-deb.
import { afterAll, describe, expect, test } from "bun:test";
import { closeSync, existsSync, mkdtempSync, openSync, rmSync, statSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createExec, type Exec } from "@powernode/exec";
import { type DebPackage, loadAptIndex } from "./apt-index.ts";
import { debFileName, fetchDebs, unpackDeb, verifyDeb } from "./fetch.ts";

/** The real Exec, recording every call (command and arguments). */
function createRecordingExec(inner: Exec = createExec()): Exec & { calls: string[][] } {
  const calls: string[][] = [];
  return {
    calls,
    run(cmd, args, opts) {
      calls.push([cmd, ...args]);
      return inner.run(cmd, args, opts);
    },
  };
}

const downloads = (calls: string[][]) => calls.filter((c) => c[0] === "apt-get" && c[1] === "download");

const cache = mkdtempSync(join(tmpdir(), "pn-debian-fetch-test-"));
afterAll(() => rmSync(cache, { recursive: true, force: true }));

test("debFileName escapes the epoch like apt-get download", () => {
  expect(
    debFileName({ name: "busybox-static", version: "1:1.35.0-4+deb12u1+b1", architecture: "arm64" }),
  ).toBe("busybox-static_1%3a1.35.0-4+deb12u1+b1_arm64.deb");
});

describe("fetchDebs (apt-get download of zstd for amd64 into a private cache)", () => {
  let zstd: DebPackage;

  test("downloads once; a second fetch of the intact file downloads nothing", async () => {
    const idx = await loadAptIndex(createExec(), "amd64");
    zstd = idx.packages.get("zstd") as DebPackage;
    expect(zstd).toBeDefined();
    const exec = createRecordingExec();
    const lines: string[] = [];
    const [path] = await fetchDebs(exec, [zstd], { cacheDir: cache, log: (l) => lines.push(l) });
    expect(path).toBe(join(cache, "debs", debFileName(zstd)));
    expect(downloads(exec.calls)).toEqual([["apt-get", "download", "-q", `zstd:amd64=${zstd.version}`]]);
    expect(await verifyDeb(path as string, zstd)).toBeUndefined();

    const again = createRecordingExec();
    expect(await fetchDebs(again, [zstd], { cacheDir: cache, log: (l) => lines.push(l) })).toEqual([
      path as string,
    ]);
    expect(again.calls).toEqual([]);
    expect(lines).toEqual([]);
  }, 180_000);

  test("a corrupted cached .deb (same size, other bytes) is detected, deleted and fetched anew", async () => {
    const path = join(cache, "debs", debFileName(zstd));
    const fd = openSync(path, "r+");
    writeSync(fd, Buffer.from("corrupted!"), 0, 10, 1000);
    closeSync(fd);
    expect(statSync(path).size).toBe(zstd.size);
    expect(await verifyDeb(path, zstd)).toMatch(/^has sha256 [0-9a-f]{64}, the index says /);

    const exec = createRecordingExec();
    const lines: string[] = [];
    await fetchDebs(exec, [zstd], { cacheDir: cache, log: (l) => lines.push(l) });
    expect(downloads(exec.calls).length).toBe(1);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toStartWith(`${debFileName(zstd)}: the cached file has sha256 `);
    expect(lines[0]).toEndWith(": deleting it and downloading it again");
    expect(await verifyDeb(path, zstd)).toBeUndefined();
  }, 180_000);

  test("a truncated cached .deb is fetched anew too", async () => {
    const path = join(cache, "debs", debFileName(zstd));
    await Bun.write(path, (await Bun.file(path).bytes()).slice(0, 4096));
    const exec = createRecordingExec();
    const lines: string[] = [];
    await fetchDebs(exec, [zstd], { cacheDir: cache, log: (l) => lines.push(l) });
    expect(lines[0]).toContain(`the cached file has 4096 bytes, the index says ${zstd.size}`);
    expect(downloads(exec.calls).length).toBe(1);
    expect(await verifyDeb(path, zstd)).toBeUndefined();
  }, 180_000);

  test("unpackDeb unpacks once (marker), then returns without running dpkg-deb", async () => {
    const [deb] = await fetchDebs(createExec(), [zstd], { cacheDir: cache });
    const dir = join(cache, "unpacked", "zstd");
    const exec = createRecordingExec();
    expect(await unpackDeb(exec, deb as string, dir)).toBe(dir);
    expect(existsSync(join(dir, "usr", "bin", "zstd"))).toBe(true);
    expect(existsSync(join(dir, ".unpacked"))).toBe(true);
    expect(existsSync(`${dir}.tmp-${process.pid}`)).toBe(false);
    await unpackDeb(exec, deb as string, dir);
    expect(exec.calls.map((c) => c[0])).toEqual(["dpkg-deb"]);
  }, 60_000);
});
