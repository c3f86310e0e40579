// Builds a real image (fast zstd level) twice into a temp dir: the real apt sources, bun, depmod,
// xz and zstd, checked with GNU cpio, zstd -t and sha256sum as outside oracles; the unpacked archive's
// own loader and glibc run its `wg`.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildImage } from "./build-image.ts";
import { createExec } from "./lib/exec.ts";
import { kernelRelease } from "./versions.ts";

const exec = createExec();
const out = mkdtempSync(join(tmpdir(), "initramfs-build-test-"));
afterAll(() => rmSync(out, { recursive: true, force: true }));
const quiet = () => {};

describe("buildImage (amd64, zstd -1)", () => {
  test(
    "is reproducible, reusable, and the archive holds what the node needs",
    async () => {
      const a = await buildImage({ arch: "amd64", outDir: out, compressionLevel: 1, log: quiet });
      const shaA = a.manifest.artifacts["initramfs.cpio.zst"].sha256;
      const b = await buildImage({
        arch: "amd64",
        outDir: out,
        compressionLevel: 1,
        log: quiet,
        force: true,
      });
      expect(b.reused).toBe(false);
      expect(b.manifest.artifacts["initramfs.cpio.zst"].sha256).toBe(shaA);
      expect(b.manifest).toEqual(a.manifest);

      const c = await buildImage({ arch: "amd64", outDir: out, compressionLevel: 1, log: quiet });
      expect(c.reused).toBe(true);
      expect(c.initramfsPath).toBe(a.initramfsPath);

      const dir = join(out, "amd64", "kernel-initrd");
      await exec.run("zstd", ["-t", "-q", a.initramfsPath]);
      await exec.run("sha256sum", ["-c", "--quiet", "SHA256SUMS"], { cwd: dir });

      const cpio = (await exec.runBinary("zstd", ["-dc", a.initramfsPath])).stdoutBytes;
      expect(cpio.length).toBe(a.manifest.artifacts.uncompressedCpio.size);
      const listed = (await exec.run("cpio", ["-t", "--quiet"], { input: cpio })).stdout.trim().split("\n");
      const mod = `lib/modules/${kernelRelease("amd64")}`;
      for (const p of [
        "init",
        "bin/powernode-agent",
        "bin/busybox",
        "bin/sh",
        "bin/insmod",
        "bin/ping",
        "bin/wg",
        "dev/console",
        "lib64/ld-linux-x86-64.so.2",
        "lib/x86_64-linux-gnu/libc.so.6",
        `${mod}/modules.dep`,
        `${mod}/powernode.load`,
        `${mod}/kernel/drivers/firmware/qemu_fw_cfg.ko`,
      ]) {
        expect(listed).toContain(p);
      }
      expect(listed).toEqual(a.manifest.files.map((f) => f.path));

      const order = a.manifest.modules.loadOrder;
      const idx = (m: string) => order.findIndex((p) => p.endsWith(`/${m}.ko`));
      for (const m of ["virtio_net", "qemu_fw_cfg", "loop", "erofs", "overlay", "dm-verity", "wireguard"]) {
        expect(idx(m)).toBeGreaterThanOrEqual(0);
      }
      expect(idx("dm-mod")).toBeLessThan(idx("dm-verity"));
      expect(idx("libchacha20poly1305")).toBeLessThan(idx("wireguard"));

      // Unpack the archive: every module's modules.dep dependencies come before it in the load order
      // (wireguard's eight among them), and the image's loader + glibc run the image's wg.
      const tree = join(out, "tree");
      mkdirSync(tree);
      await exec.run(
        "cpio",
        ["-idm", "--quiet", "bin/wg", "usr/bin", "lib64/*", "lib/x86_64-linux-gnu/*", `${mod}/modules.dep`],
        { input: cpio, cwd: tree },
      );
      const deps = readFileSync(join(tree, mod, "modules.dep"), "utf8")
        .trim()
        .split("\n");
      const pos = new Map(order.map((p, i) => [p, i]));
      const misplaced: string[] = [];
      let wgDeps = 0;
      for (const line of deps) {
        const [m = "", rest = ""] = line.split(":");
        for (const d of rest.trim().split(/\s+/).filter(Boolean)) {
          if (!((pos.get(d) ?? Infinity) < (pos.get(m) ?? -1))) misplaced.push(`${d} (for ${m})`);
          if (m.endsWith("/wireguard.ko")) wgDeps++;
        }
      }
      expect(misplaced).toEqual([]);
      expect(wgDeps).toBe(8);
      const wg = await exec.run(
        join(tree, "lib64/ld-linux-x86-64.so.2"),
        ["--library-path", join(tree, "lib/x86_64-linux-gnu"), join(tree, "usr/bin/wg"), "--version"],
        { env: { LANG: "C" }, cleanEnv: true },
      );
      expect(wg.stdout).toStartWith("wireguard-tools v1.0.20210914");
      expect(a.manifest.packages["wireguard-tools"]).toStartWith("1.0.20210914");
      expect(a.manifest.modules.builtin).toEqual(
        expect.arrayContaining(["ext4", "virtio_pci", "virtio_console"]),
      );
      expect(a.manifest.agent.gitSha).toMatch(/^[0-9a-f]{40}$/);
      expect(readFileSync(join(dir, "build-manifest.json"), "utf8")).toContain(a.manifest.inputHash);
    },
    { timeout: 180_000 },
  );
});
