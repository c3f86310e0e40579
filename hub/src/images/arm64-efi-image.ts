/**
 * A bootable arm64 UEFI disk image (arm64 servers, QEMU virt with AAVMF): the same GPT + FAT32 ESP as
 * the x86 image (efi-image.ts' writeEspImage), but with a small EFI boot loader instead of a UKI: the
 * host's objcopy cannot write aarch64 PE files, so Debian's arm64 systemd-boot (systemd-boot-efi,
 * fetched through @powernode/debian) is `EFI/BOOT/BOOTAA64.EFI` and boots one loader entry naming the
 * kernel (an EFI application itself), the initramfs and the cmdline. Reproducible like the x86 image.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BOOKWORM_SUITES, debFileName, fetchDebs, loadAptIndex, unpackDeb } from "@powernode/debian";
import { createExec, cacheDir as defaultCacheDir, type Exec } from "@powernode/exec";
import { writeEspImage } from "./efi-image.ts";

/** Paths on the ESP. */
export const ARM64_ESP = {
  loader: "EFI/BOOT/BOOTAA64.EFI",
  loaderConf: "loader/loader.conf",
  entry: "loader/entries/powernode.conf",
  kernel: "powernode/linux",
  initrd: "powernode/initrd",
} as const;

export interface Arm64EfiImageInput {
  kernel: string;
  initrd: string;
  cmdline: string;
  /** systemd-bootaa64.efi (fetchSystemdBootAa64). */
  bootloader: string;
  out: string;
  /** Files at the partition's root (e.g. `identity.cfg`). */
  extraFiles?: Record<string, string>;
  /** Default 315532800 (1980-01-01, FAT's epoch). */
  sourceDateEpoch?: number;
  exec?: Exec;
}

/** loader.conf: the one entry, no menu, no editor (the cmdline carries the claim parameters). */
export function loaderConf(): string {
  return "default powernode.conf\ntimeout 0\neditor no\n";
}

/** The Boot Loader Specification entry of the node image. */
export function loaderEntry(cmdline: string): string {
  if (/[\r\n]/.test(cmdline)) throw new Error("cmdline: must be one line");
  return [
    "title powernode node",
    `linux /${ARM64_ESP.kernel}`,
    `initrd /${ARM64_ESP.initrd}`,
    `options ${cmdline}`,
    "",
  ].join("\n");
}

/** Builds the image at `out`; returns its sha256 and size. */
export async function buildArm64EfiImage(
  input: Arm64EfiImageInput,
): Promise<{ sha256: string; sizeBytes: number }> {
  const exec = input.exec ?? createExec({ defaultTimeoutMs: 300_000 });
  for (const f of [input.bootloader, input.kernel, input.initrd])
    if (!existsSync(f)) throw new Error(`${f} is missing`);
  const epoch = input.sourceDateEpoch ?? 315_532_800;
  const h = createHash("sha256").update("arm64-efi");
  for (const f of [input.bootloader, input.kernel, input.initrd]) h.update(readFileSync(f));
  h.update(input.cmdline);
  for (const [name, text] of Object.entries(input.extraFiles ?? {}).sort()) h.update(`${name}\0${text}`);
  const digest = h.digest("hex");
  const work = mkdtempSync(join(tmpdir(), "arm64-efi-image-"));
  try {
    // Copies: writeEspImage sets the sources' mtimes to the epoch.
    const copy = (name: string, data: string | Buffer): string => {
      const p = join(work, name);
      writeFileSync(p, data);
      return p;
    };
    const files: Array<[string, string]> = [
      [copy("BOOTAA64.EFI", readFileSync(input.bootloader)), ARM64_ESP.loader],
      [copy("loader.conf", loaderConf()), ARM64_ESP.loaderConf],
      [copy("powernode.conf", loaderEntry(input.cmdline)), ARM64_ESP.entry],
      [copy("linux", readFileSync(input.kernel)), ARM64_ESP.kernel],
      [copy("initrd", readFileSync(input.initrd)), ARM64_ESP.initrd],
    ];
    for (const [name, text] of Object.entries(input.extraFiles ?? {}))
      files.push([copy(`extra-${name.replaceAll("/", "_")}`, text), name]);
    return await writeEspImage({ exec, out: input.out, files, digest, epoch });
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** systemd-bootaa64.efi from bookworm's systemd-boot-efi (arm64), downloaded and unpacked once. */
export async function fetchSystemdBootAa64(exec: Exec, opts: { cacheDir?: string } = {}): Promise<string> {
  const cacheDir = opts.cacheDir ?? defaultCacheDir();
  const index = await loadAptIndex(exec, "arm64", { cacheDir });
  const p = index.versions("systemd-boot-efi").find((v) => BOOKWORM_SUITES.some((s) => s === v.suite));
  if (!p) throw new Error("systemd-boot-efi (arm64) is not in the apt sources (apt-get update?)");
  const [deb] = await fetchDebs(exec, [p], { cacheDir });
  const root = await unpackDeb(
    exec,
    deb as string,
    join(cacheDir, "unpacked", debFileName(p).replace(/\.deb$/, "")),
  );
  return join(root, "usr/lib/systemd/boot/efi/systemd-bootaa64.efi");
}
