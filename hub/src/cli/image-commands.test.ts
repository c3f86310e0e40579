import { describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCli } from "./run.ts";

async function pnctl(argv: string[]): Promise<{ code: number; err: string }> {
  const err: string[] = [];
  const code = await runCli(argv, {}, { out: () => {}, err: (l) => err.push(l) });
  return { code, err: err.join("\n") };
}

describe("pnctl image build", () => {
  const dir = mkdtempSync(join(tmpdir(), "image-cli-"));
  const out = join(dir, "x.img");

  test("an unknown platform and a missing build are usage errors naming what to do", async () => {
    const bad = await pnctl(["image", "build", "--platform", "rpi3", "--out", out]);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain("x86-efi, arm64-efi, rpi4, rpi5");
    for (const [platform, arch] of [
      ["rpi4", "arm64"],
      ["rpi5", "arm64"],
      ["arm64-efi", "arm64"],
      ["x86-efi", "amd64"],
    ] as const) {
      const r = await pnctl(["image", "build", "--platform", platform, "--out", out, "--image-dir", dir]);
      expect(r.code).toBe(2);
      expect(r.err).toContain(`run bun initramfs/build.ts --arch ${arch}`);
    }
  });

  test("a Pi image from a build whose manifest is not arm64's is refused naming the file", async () => {
    const k = join(dir, "arm64", "kernel-initrd");
    mkdirSync(k, { recursive: true });
    writeFileSync(join(k, "kernel"), "k");
    writeFileSync(join(k, "initramfs.cpio.zst"), "i");
    writeFileSync(join(k, "build-manifest.json"), JSON.stringify({ arch: "amd64", kernel: {} }));
    const r = await pnctl(["image", "build", "--platform", "rpi4", "--out", out, "--image-dir", dir]);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`${join(k, "build-manifest.json")}: not an arm64 build manifest`);
  });
});
