/**
 * The real loop, erofs and overlay calls against the host kernel with a module built by
 * buildModuleImages: metadata.cfs hashed and loop-attached through one fd, blob.erofs loop-attached
 * (the host has no device-mapper: dm-verity is proven in QEMU, see docs/agent.md "Modules"), one overlay
 * `meta::blob` over a tmpfs upper, files read back through it, everything unmounted.
 */

import { afterAll, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildModuleImages } from "@powernode/composefs";
import { resolveCommand } from "@powernode/exec";
import { overlayOptions } from "../controllers/modules/assignment.ts";
import { createModuleSys } from "./module-sys.ts";

// Needs root, loop devices and mkfs.erofs. Missing any of them fails the test with the reason (never a
// silent skip): `npm test` runs as root and set-up unpacks the private erofs-utils.
function assertCanRun(): void {
  if (process.getuid?.() !== 0) throw new Error("needs root (loop devices and mounts)");
  if (!existsSync("/dev/loop-control")) throw new Error("no /dev/loop-control: the loop driver is missing");
  resolveCommand("mkfs.erofs"); // throws MissingToolError naming `npm run setup`
}
const dir = mkdtempSync(join(tmpdir(), "pn-modsys-"));
const mounted: string[] = [];
const sys = createModuleSys();
afterAll(() => {
  for (const t of mounted.reverse()) {
    try {
      sys.umount(t, true);
    } catch {
      // Already gone: the test unmounted it itself.
    }
  }
  rmSync(dir, { recursive: true, force: true });
});

test("host kernel: loop (LOOP_CONFIGURE from the hashed fd), erofs, overlay lowerdir=meta::blob, read back", async () => {
  assertCanRun();
  const src = join(dir, "src");
  mkdirSync(join(src, "etc"), { recursive: true });
  mkdirSync(join(src, "bin"), { recursive: true });
  writeFileSync(join(src, "etc/motd"), "hello from a module\n");
  const big = new Uint8Array(300_000).map((_, i) => (i * 7) & 0xff);
  writeFileSync(join(src, "bin/tool"), big);
  chmodSync(join(src, "bin/tool"), 0o755);
  const m = await buildModuleImages(src, join(dir, "out"));

  const fd = sys.openRead(m.metadataImage);
  expect(sys.fsVerityDigestFd(fd)).toBe(m.metadataDigest);
  const meta = join(dir, "meta");
  const blob = join(dir, "blob");
  const upper = join(dir, "upper");
  const root = join(dir, "root");
  for (const d of [meta, blob, upper, root]) sys.mkdir(d);
  const metaLoop = sys.attachLoop(fd, "metadata.cfs");
  expect(metaLoop.device).toMatch(/^\/dev\/loop\d+$/);
  sys.mount(metaLoop.device, meta, "erofs", true);
  mounted.push(meta);
  metaLoop.close();
  const blobFd = sys.openRead(m.blobImage);
  const blobLoop = sys.attachLoop(blobFd, "blob.erofs");
  sys.close(blobFd);
  expect(readFileSync(`/sys/block/${blobLoop.device.slice(5)}/queue/logical_block_size`, "utf8").trim()).toBe(
    "4096",
  );
  expect(readFileSync(`/sys/block/${blobLoop.device.slice(5)}/ro`, "utf8").trim()).toBe("1");
  sys.mount(blobLoop.device, blob, "erofs", true);
  mounted.push(blob);
  blobLoop.close();
  sys.mount("tmpfs", upper, "tmpfs", false, "mode=0755");
  mounted.push(upper);
  sys.mkdir(join(upper, "u"));
  sys.mkdir(join(upper, "w"));
  sys.mount(
    "overlay",
    root,
    "overlay",
    false,
    overlayOptions({
      metadataDirs: [meta],
      dataDirs: [blob],
      upperDir: join(upper, "u"),
      workDir: join(upper, "w"),
    }),
  );
  mounted.push(root);
  expect(readFileSync(join(root, "etc/motd"), "utf8")).toBe("hello from a module\n");
  const r = sys.readFile(join(root, "bin/tool"));
  expect(r).toEqual({
    ok: true,
    sha256: new Bun.CryptoHasher("sha256").update(big).digest("hex"),
    size: 300_000,
  });
  expect(sys.readFile(join(root, "nope"))).toEqual({ ok: false, errno: "ENOENT" });
  // The upper is writable: the node can create its /proc, /sys, /dev mount points.
  sys.mkdir(join(root, "proc"));
  expect(existsSync(join(upper, "u/proc"))).toBe(true);
  for (const t of mounted.splice(0).reverse()) sys.umount(t, false);
  sys.close(fd);
  // autoclear: with the mounts gone the loop devices are free again.
  expect(readFileSync(`/sys/block/${blobLoop.device.slice(5)}/size`, "utf8").trim()).toBe("0");
}, 60_000);

test("pruneDownloads removes download dirs not kept, and name dirs left empty", () => {
  const base = join(dir, "prune");
  for (const d of ["web/aa", "web/bb", "db/cc"]) {
    mkdirSync(join(base, d), { recursive: true });
    writeFileSync(join(base, d, "blob.erofs"), "x");
  }
  const removed = sys.pruneDownloads(base, new Set([join(base, "web/aa")]));
  expect(removed.sort()).toEqual([join(base, "db/cc"), join(base, "web/bb")]);
  expect(existsSync(join(base, "web/aa/blob.erofs"))).toBe(true);
  expect(existsSync(join(base, "db"))).toBe(false);
  expect(sys.pruneDownloads(join(base, "missing"), new Set())).toEqual([]);
});
