/**
 * A bootable x86-64 UEFI disk image from a kernel, an initramfs and a cmdline: one UKI (the kernel,
 * initramfs, cmdline and os-release as sections of systemd's EFI stub, joined with objcopy) at
 * `EFI/BOOT/BOOTX64.EFI` on a FAT32 EFI system partition, in a GPT raw image. Written without
 * mounting (sfdisk, mkfs.fat --offset, mtools). Reproducible: the disk and partition GUIDs and the
 * FAT volume id are derived from the inputs' digest, and every timestamp is SOURCE_DATE_EPOCH.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createExec, type Exec } from "@powernode/exec";
import { PARTITION_OFFSET, writeFatDiskImage } from "./fat-disk-image.ts";

/** Debian's systemd-boot-efi. */
export const EFI_STUB = { amd64: "/usr/lib/systemd/boot/efi/linuxx64.efi.stub" } as const;
const ESP_TYPE = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B";
const MiB = 1024 * 1024;
/** The ESP starts at 1 MiB (sector 2048). */
export const ESP_OFFSET = PARTITION_OFFSET;

export interface EfiImageInput {
  kernel: string;
  initrd: string;
  cmdline: string;
  out: string;
  /** Files put next to the UKI at the partition's root (e.g. `identity.cfg`). */
  extraFiles?: Record<string, string>;
  /** Default 315532800 (1980-01-01, FAT's epoch). */
  sourceDateEpoch?: number;
  exec?: Exec;
  stub?: string;
}

/** A GUID (RFC 4122 shape) from a digest, so the same inputs give the same table. */
export function guidFrom(digest: string, salt: string): string {
  const h = createHash("sha256").update(`${salt}:${digest}`).digest("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`.toUpperCase();
}

/** The sfdisk script of the image: one ESP from 1 MiB to 1 MiB before the end (the backup GPT). */
export function sfdiskScript(sizeBytes: number, digest: string): string {
  const sectors = sizeBytes / 512;
  return [
    "label: gpt",
    `label-id: ${guidFrom(digest, "disk")}`,
    "first-lba: 2048",
    `start=2048, size=${sectors - 2048 - 2048}, type=${ESP_TYPE}, uuid=${guidFrom(digest, "esp")}, name="POWERNODE-EFI"`,
    "",
  ].join("\n");
}

/**
 * objcopy writes the current time into the UKI's PE header (COFF TimeDateStamp) and a checksum over
 * it; both are set here (the epoch, and 0: firmware does not check PE checksums) so the same inputs
 * give the same bytes.
 */
export function stampPe(path: string, epoch: number): void {
  const b = readFileSync(path);
  const pe = b.readUInt32LE(0x3c);
  if (b.toString("latin1", pe, pe + 4) !== "PE\0\0")
    throw new Error(`${path}: no PE header at 0x${pe.toString(16)}`);
  b.writeUInt32LE(epoch >>> 0, pe + 8);
  b.writeUInt32LE(0, pe + 24 + 64);
  writeFileSync(path, b);
}

function digestOf(input: EfiImageInput, stub: string): string {
  const h = createHash("sha256");
  for (const f of [stub, input.kernel, input.initrd]) h.update(readFileSync(f));
  h.update(input.cmdline);
  for (const [name, text] of Object.entries(input.extraFiles ?? {}).sort()) h.update(`${name}\0${text}`);
  return h.digest("hex");
}

/** Builds the image at `out`; returns its sha256 and size. */
export async function buildEfiImage(input: EfiImageInput): Promise<{ sha256: string; sizeBytes: number }> {
  const exec = input.exec ?? createExec({ defaultTimeoutMs: 300_000 });
  const stub = input.stub ?? EFI_STUB.amd64;
  if (!existsSync(stub)) throw new Error(`${stub} is missing: install systemd-boot-efi (npm run setup)`);
  const epoch = input.sourceDateEpoch ?? 315_532_800;
  const env = { SOURCE_DATE_EPOCH: String(epoch), MTOOLS_SKIP_CHECK: "1", TZ: "UTC" };
  const digest = digestOf(input, stub);
  const work = mkdtempSync(join(tmpdir(), "efi-image-"));
  try {
    const osrel = join(work, "os-release");
    writeFileSync(osrel, 'NAME="powernode"\nID=powernode\nPRETTY_NAME="powernode node"\n');
    const cmdline = join(work, "cmdline");
    writeFileSync(cmdline, `${input.cmdline}\0`);
    const uki = join(work, "BOOTX64.EFI");
    // Section addresses past the stub's own (systemd 252 has no ukify to place them).
    const kernelEnd = 0x2000000 + statSync(input.kernel).size;
    const initrdAt = Math.ceil(kernelEnd / 0x100000) * 0x100000 + 0x100000;
    await exec.run(
      "objcopy",
      [
        "--add-section",
        `.osrel=${osrel}`,
        "--change-section-vma",
        ".osrel=0x20000",
        "--add-section",
        `.cmdline=${cmdline}`,
        "--change-section-vma",
        ".cmdline=0x30000",
        "--add-section",
        `.linux=${input.kernel}`,
        "--change-section-vma",
        ".linux=0x2000000",
        "--add-section",
        `.initrd=${input.initrd}`,
        "--change-section-vma",
        `.initrd=0x${initrdAt.toString(16)}`,
        stub,
        uki,
      ],
      { env },
    );
    stampPe(uki, epoch);
    const files: Array<[string, string]> = [[uki, "EFI/BOOT/BOOTX64.EFI"]];
    for (const [name, text] of Object.entries(input.extraFiles ?? {})) {
      const p = join(work, name.replaceAll("/", "_"));
      writeFileSync(p, text);
      files.push([p, name]);
    }
    return await writeEspImage({ exec, out: input.out, files, digest, epoch });
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

export interface EspImageInput {
  exec: Exec;
  out: string;
  /** [source path, path on the ESP] in copy order; parent directories are made first. */
  files: Array<[string, string]>;
  /** The inputs' digest: the GUIDs and the volume id come from it. */
  digest: string;
  epoch: number;
}

/**
 * The raw image: a GPT with one FAT32 ESP at 1 MiB holding `files` (the sources' mtimes are set to the
 * epoch). Shared by the x86 UKI image and the arm64 systemd-boot image.
 */
export function writeEspImage(input: EspImageInput): Promise<{ sha256: string; sizeBytes: number }> {
  return writeFatDiskImage({
    ...input,
    table: (sizeBytes) => sfdiskScript(sizeBytes, input.digest),
    label: "POWERNODE",
    // The GPT's backup table.
    tailBytes: MiB,
  });
}
