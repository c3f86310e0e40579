/**
 * Block devices: finds the persistent disk (an ext4 filesystem labelled "persist") and a FAT boot
 * partition (where a disk image carries identity.cfg), by their superblocks; nothing is mounted here.
 */
import { closeSync, existsSync, openSync, readdirSync, readSync } from "node:fs";
import { join } from "node:path";

const EXT_MAGIC = 0xef53;

/** The ext2/3/4 volume label of a device or image file, or undefined if it holds no ext filesystem. */
export function readExtLabel(path: string): string | undefined {
  const buf = Buffer.alloc(1024);
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch {
    // Unreadable (no medium, permission): not the disk we are looking for.
    return undefined;
  }
  try {
    // The superblock starts at byte 1024: s_magic at 0x38, s_volume_name (16 bytes) at 0x78.
    if (readSync(fd, buf, 0, 1024, 1024) < 0x88) return undefined;
  } finally {
    closeSync(fd);
  }
  if (buf.readUInt16LE(0x38) !== EXT_MAGIC) return undefined;
  const name = buf.subarray(0x78, 0x88);
  const end = name.indexOf(0);
  return name.subarray(0, end < 0 ? 16 : end).toString("utf8");
}

/** Disk and partition names from <sysRoot>/class/block (vda, vda1, sda, nvme0n1p1, ...), sorted. */
export function listBlockDevices(sysRoot = "/sys"): string[] {
  const dir = join(sysRoot, "class/block");
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((n) => /^(vd|sd|xvd|nvme|mmcblk)/.test(n))
    .sort();
}

/** The first block device (under <devRoot>) whose ext label is `label`. */
export function findExtByLabel(label: string, sysRoot = "/sys", devRoot = "/dev"): string | undefined {
  for (const name of listBlockDevices(sysRoot)) {
    const dev = join(devRoot, name);
    if (readExtLabel(dev) === label) return dev;
  }
  return undefined;
}

/** True when `path` starts with a FAT12/16/32 boot sector (0x55AA and the FAT type string). */
export function isFat(path: string): boolean {
  const buf = Buffer.alloc(512);
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch {
    return false;
  }
  try {
    if (readSync(fd, buf, 0, 512, 0) < 512) return false;
  } finally {
    closeSync(fd);
  }
  if (buf[510] !== 0x55 || buf[511] !== 0xaa) return false;
  const fat32 = buf.subarray(82, 87).toString("latin1");
  const fat16 = buf.subarray(54, 59).toString("latin1");
  return fat32 === "FAT32" || fat16 === "FAT12" || fat16 === "FAT16";
}

/** The first partition (a device with a `partition` file in sysfs) holding a FAT filesystem. */
export function findFatPartition(sysRoot = "/sys", devRoot = "/dev"): string | undefined {
  for (const name of listBlockDevices(sysRoot)) {
    if (!existsSync(join(sysRoot, "class/block", name, "partition"))) continue;
    const dev = join(devRoot, name);
    if (isFat(dev)) return dev;
  }
  return undefined;
}
