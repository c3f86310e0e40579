/**
 * A Raspberry Pi 4/5 SD-card image from the arm64 node kernel, its initramfs and a cmdline: an MBR with
 * one bootable FAT32 partition (type 0x0c) holding the firmware's layout (Raspberry Pi boot docs:
 * config.txt, cmdline.txt, the kernel and initramfs it names, the boards' DTBs, the Pi 4 GPU firmware
 * start4.elf + fixup4.dat; the Pi 5 boots from its EEPROM and ignores those). The planning
 * (`planRpiBootFiles`, `rpiConfigTxt`, `mbrSfdiskScript`) is pure; `buildRpiImage` writes the image with
 * the same tools as the x86 builder (sfdisk, mkfs.fat --offset, mtools; never a mount). Reproducible:
 * the MBR disk id and FAT volume id come from the inputs' digest, every timestamp is the epoch.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createExec, type Exec } from "@powernode/exec";
import { PARTITION_OFFSET, writeFatDiskImage } from "./fat-disk-image.ts";

export const RPI_PLATFORMS = ["rpi4", "rpi5"] as const;
export type RpiPlatform = (typeof RPI_PLATFORMS)[number];

/** The DTB the firmware loads per board (both go on every image). */
export const RPI_DTBS = { rpi4: "bcm2711-rpi-4-b.dtb", rpi5: "bcm2712-rpi-5-b.dtb" } as const;
/** The Pi 4's GPU firmware from raspi-firmware (its bootloader is in EEPROM: no bootcode.bin). */
export const RPI4_FIRMWARE = ["start4.elf", "fixup4.dat"] as const;
/** The debug serial console per board, as the kernel names it (Pi 4: mini UART on GPIO 14/15; Pi 5: its debug header). */
export const RPI_CONSOLE: Record<RpiPlatform, string> = { rpi4: "ttyS0,115200", rpi5: "ttyAMA10,115200" };
/** File names on the boot partition. */
export const RPI_KERNEL = "kernel8.img";
export const RPI_INITRAMFS = "initramfs.img";

/** The boot partition starts at 1 MiB (sector 2048). */
export const RPI_BOOT_OFFSET = PARTITION_OFFSET;

export interface RpiImageInput {
  platform: RpiPlatform;
  kernel: string;
  initrd: string;
  /** The kernel cmdline (one line; the console comes from the caller, see RPI_CONSOLE). */
  cmdline: string;
  /** Paths of the DTBs, by file name (at least RPI_DTBS' two). */
  dtbs: Record<string, string>;
  /** Paths of the firmware blobs, by file name (at least RPI4_FIRMWARE). */
  firmware: Record<string, string>;
  out: string;
  /** Text files at the partition's root (e.g. `identity.cfg`). */
  extraFiles?: Record<string, string>;
  /** Default 315532800 (1980-01-01, FAT's epoch). */
  sourceDateEpoch?: number;
  exec?: Exec;
}

/** One file of the boot partition: copied from `path` or written from `text`. */
export type BootFile = { name: string; path: string } | { name: string; text: string };

/** config.txt per the Raspberry Pi boot documentation: 64-bit kernel, the initramfs after it, a DTB per board. */
export function rpiConfigTxt(): string {
  return [
    "# written by pnctl image build (powernode); see docs/hardware.md",
    "[all]",
    "arm_64bit=1",
    `kernel=${RPI_KERNEL}`,
    `initramfs ${RPI_INITRAMFS} followed_kernel`,
    "enable_uart=1",
    "disable_overscan=1",
    "[pi4]",
    `device_tree=${RPI_DTBS.rpi4}`,
    "[pi5]",
    `device_tree=${RPI_DTBS.rpi5}`,
    "[all]",
    "",
  ].join("\n");
}

/** Every file of the boot partition, sorted by name; throws naming a missing DTB or blob. */
export function planRpiBootFiles(input: RpiImageInput): BootFile[] {
  if (/[\r\n]/.test(input.cmdline)) throw new Error("cmdline: must be one line");
  const files: BootFile[] = [
    { name: "config.txt", text: rpiConfigTxt() },
    { name: "cmdline.txt", text: `${input.cmdline}\n` },
    { name: RPI_KERNEL, path: input.kernel },
    { name: RPI_INITRAMFS, path: input.initrd },
  ];
  for (const name of Object.values(RPI_DTBS)) {
    const path = input.dtbs[name];
    if (!path) throw new Error(`dtbs: ${name} is missing`);
    files.push({ name, path });
  }
  for (const name of RPI4_FIRMWARE) {
    const path = input.firmware[name];
    if (!path) throw new Error(`firmware: ${name} is missing`);
    files.push({ name, path });
  }
  for (const [name, text] of Object.entries(input.extraFiles ?? {})) {
    if (!/^[A-Za-z0-9._-]+$/.test(name) || files.some((f) => f.name === name))
      throw new Error(`extraFiles: "${name}" is not a free file name at the partition's root`);
    files.push({ name, text });
  }
  return files.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** The sfdisk script: an MBR, one bootable FAT32-LBA partition from 1 MiB to the end. */
export function mbrSfdiskScript(sizeBytes: number, digest: string): string {
  const id = createHash("sha256").update(`mbr:${digest}`).digest("hex").slice(0, 8);
  return [
    "label: dos",
    `label-id: 0x${id}`,
    `start=2048, size=${sizeBytes / 512 - 2048}, type=c, bootable`,
    "",
  ].join("\n");
}

function digestOf(input: RpiImageInput, files: BootFile[]): string {
  const h = createHash("sha256").update(input.platform);
  for (const f of files) {
    h.update(`\0${f.name}\0`);
    h.update("path" in f ? readFileSync(f.path) : f.text);
  }
  return h.digest("hex");
}

/** Builds the image at `out`; returns its sha256 and size. */
export async function buildRpiImage(input: RpiImageInput): Promise<{ sha256: string; sizeBytes: number }> {
  const exec = input.exec ?? createExec({ defaultTimeoutMs: 300_000 });
  const files = planRpiBootFiles(input);
  for (const f of files)
    if ("path" in f && !existsSync(f.path)) throw new Error(`${f.name}: ${f.path} is missing`);
  const epoch = input.sourceDateEpoch ?? 315_532_800;
  const digest = digestOf(input, files);
  const work = mkdtempSync(join(tmpdir(), "rpi-image-"));
  try {
    // mcopy takes a file's mtime (-m): copies in the work dir get the epoch without touching the inputs.
    const copies: Array<[string, string]> = files.map((f) => {
      const p = join(work, f.name);
      writeFileSync(p, "path" in f ? readFileSync(f.path) : f.text);
      return [p, f.name];
    });
    return await writeFatDiskImage({
      exec,
      out: input.out,
      files: copies,
      digest,
      epoch,
      table: (sizeBytes) => mbrSfdiskScript(sizeBytes, digest),
      label: "PNBOOT",
      tailBytes: 0,
      hiddenSectors: true,
    });
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
