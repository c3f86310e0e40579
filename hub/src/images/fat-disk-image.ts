/**
 * The raw disk image both boot-image builders write: a partition table (GPT or MBR, an sfdisk script)
 * with one FAT32 partition at 1 MiB holding the given files, written without mounting (sfdisk,
 * mkfs.fat --offset, mtools). Reproducible: the FAT volume id comes from the inputs' digest and every
 * timestamp is the epoch.
 */
import { createHash } from "node:crypto";
import { readFileSync, rmSync, statSync, truncateSync, utimesSync, writeFileSync } from "node:fs";
import type { Exec } from "@powernode/exec";

const MiB = 1024 * 1024;
/** The partition starts at 1 MiB (sector 2048). */
export const PARTITION_OFFSET = MiB;

export interface FatDiskImageInput {
  exec: Exec;
  out: string;
  /** [source path, path on the partition] in copy order; the sources' mtimes are set to the epoch. */
  files: Array<[string, string]>;
  /** The inputs' digest: the volume id comes from it. */
  digest: string;
  epoch: number;
  /** The sfdisk script of the partition table for an image of `sizeBytes`. */
  table: (sizeBytes: number) => string;
  /** The FAT volume label. */
  label: string;
  /** Room after the partition (a GPT's backup table), in bytes. */
  tailBytes: number;
  /** Set the boot sector's hidden-sectors field to the partition's LBA (--offset alone leaves it 0). */
  hiddenSectors?: boolean;
}

/** Writes the image at `out`; returns its sha256 and size. */
export async function writeFatDiskImage(
  input: FatDiskImageInput,
): Promise<{ sha256: string; sizeBytes: number }> {
  const { exec, out, files, digest, epoch } = input;
  const env = { SOURCE_DATE_EPOCH: String(epoch), MTOOLS_SKIP_CHECK: "1", TZ: "UTC" };
  const payload = files.reduce((n, [p]) => n + statSync(p).size, 0);
  // The partition: the files, 25 % and 16 MiB of room, in whole MiB; FAT32 needs 64 MiB or so.
  const partBytes = Math.max(64 * MiB, Math.ceil((payload * 1.25 + 16 * MiB) / MiB) * MiB);
  const sizeBytes = PARTITION_OFFSET + partBytes + input.tailBytes;
  rmSync(out, { force: true });
  writeFileSync(out, "");
  truncateSync(out, sizeBytes);
  await exec.run("sfdisk", ["--no-reread", "--no-tell-kernel", "-q", out], {
    input: input.table(sizeBytes),
  });
  const volumeId = createHash("sha256").update(`fat:${digest}`).digest("hex").slice(0, 8);
  const sector = String(PARTITION_OFFSET / 512);
  // --invariant before -i: it sets the volume id to 1234ABCD, and the later option wins.
  await exec.run(
    "mkfs.fat",
    [
      "--invariant",
      "-F",
      "32",
      "-n",
      input.label,
      "-i",
      volumeId,
      ...(input.hiddenSectors ? ["-h", sector] : []),
      "--offset",
      sector,
      out,
      String(partBytes / 1024),
    ],
    { env },
  );
  const img = `${out}@@${PARTITION_OFFSET}`;
  const dirs: string[] = [];
  for (const [, dest] of files) {
    const parts = dest.split("/").slice(0, -1);
    for (let i = 1; i <= parts.length; i++) {
      const d = `::/${parts.slice(0, i).join("/")}`;
      if (!dirs.includes(d)) dirs.push(d);
    }
  }
  for (const [p] of files) utimesSync(p, epoch, epoch);
  if (dirs.length > 0) await exec.run("mmd", ["-i", img, ...dirs], { env });
  for (const [p, dest] of files) await exec.run("mcopy", ["-m", "-i", img, p, `::/${dest}`], { env });
  const sha256 = createHash("sha256").update(readFileSync(out)).digest("hex");
  return { sha256, sizeBytes };
}
