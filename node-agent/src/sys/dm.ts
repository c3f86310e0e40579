/**
 * device-mapper through ioctls on /dev/mapper/control (no dmsetup in the image): create a dm-verity
 * device, read its table and status back, remove it. Struct builders and parsers are pure (tested);
 * `createDm()` does the ioctls. Layout from linux/dm-ioctl.h (interface version 4).
 */
import { closeSync, openSync, rmSync, symlinkSync } from "node:fs";
import { ioctl } from "./libc.ts";

/** sizeof(struct dm_ioctl): the header; data follows at data_start. */
export const DM_IOCTL_SIZE = 312;
/** sizeof(struct dm_target_spec). */
export const DM_TARGET_SPEC_SIZE = 40;
const DM_NAME_LEN = 128;

export const DM_CMD = {
  version: 0,
  devCreate: 3,
  devRemove: 4,
  devSuspend: 6,
  devStatus: 7,
  tableLoad: 9,
  tableStatus: 12,
} as const;

export const DM_READONLY_FLAG = 1 << 0;
export const DM_SUSPEND_FLAG = 1 << 1;
export const DM_STATUS_TABLE_FLAG = 1 << 4;
export const DM_ACTIVE_PRESENT_FLAG = 1 << 5;
export const DM_BUFFER_FULL_FLAG = 1 << 8;

/** _IOWR(0xfd, nr, struct dm_ioctl). */
export function dmRequest(nr: number): number {
  return ((3 << 30) | (DM_IOCTL_SIZE << 16) | (0xfd << 8) | nr) >>> 0;
}

export interface DmTarget {
  sectorStart: bigint;
  length: bigint;
  type: string;
  params: string;
}

export interface DmIoctlInput {
  name: string;
  flags?: number;
  targets?: DmTarget[];
  /** Total buffer size (header + data room); at least the header plus the targets. */
  size?: number;
}

const pad8 = (n: number) => (n + 7) & ~7;

/** A struct dm_ioctl buffer (version 4.0.0) with its target specs and parameter strings. */
export function dmIoctlStruct(input: DmIoctlInput): Uint8Array {
  const enc = new TextEncoder();
  const name = enc.encode(input.name);
  if (name.length === 0 || name.length >= DM_NAME_LEN) throw new RangeError(`dm name "${input.name}" length`);
  const specs = (input.targets ?? []).map((t) => {
    const type = enc.encode(t.type);
    if (type.length >= 16) throw new RangeError(`dm target type "${t.type}" too long`);
    return { t, type, params: enc.encode(t.params) };
  });
  const dataLen = specs.reduce((n, s) => n + DM_TARGET_SPEC_SIZE + pad8(s.params.length + 1), 0);
  const size = Math.max(input.size ?? 0, DM_IOCTL_SIZE + dataLen);
  const buf = new Uint8Array(size);
  const v = new DataView(buf.buffer);
  v.setUint32(0, 4, true);
  v.setUint32(4, 0, true);
  v.setUint32(8, 0, true);
  v.setUint32(12, size, true); // data_size: the whole buffer
  v.setUint32(16, DM_IOCTL_SIZE, true); // data_start
  v.setUint32(20, specs.length, true); // target_count
  v.setUint32(28, input.flags ?? 0, true);
  buf.set(name, 48);
  let at = DM_IOCTL_SIZE;
  for (const s of specs) {
    const len = DM_TARGET_SPEC_SIZE + pad8(s.params.length + 1);
    v.setBigUint64(at, s.t.sectorStart, true);
    v.setBigUint64(at + 8, s.t.length, true);
    // next: offset from this spec to the following one (input direction).
    v.setUint32(at + 20, len, true);
    buf.set(s.type, at + 24);
    buf.set(s.params, at + DM_TARGET_SPEC_SIZE);
    at += len;
  }
  return buf;
}

export interface DmIoctlResult {
  flags: number;
  openCount: number;
  /** Kernel dev_t in the huge encoding (major << 8 | minor low byte | minor high bits << 12). */
  dev: bigint;
  minor: number;
  major: number;
  targets: { sectorStart: bigint; length: bigint; status: number; type: string; params: string }[];
}

const cString = (b: Uint8Array) => {
  const z = b.indexOf(0);
  return new TextDecoder().decode(z < 0 ? b : b.subarray(0, z));
};

/** Reads a struct dm_ioctl the kernel filled in (status and table output: `next` counts from data_start). */
export function parseDmIoctl(buf: Uint8Array): DmIoctlResult {
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const dataStart = v.getUint32(16, true);
  const count = v.getUint32(20, true);
  const dev = v.getBigUint64(40, true);
  const d = Number(dev);
  const targets: DmIoctlResult["targets"] = [];
  let at = dataStart;
  for (let i = 0; i < count && at + DM_TARGET_SPEC_SIZE <= buf.length; i++) {
    const next = v.getUint32(at + 20, true);
    targets.push({
      sectorStart: v.getBigUint64(at, true),
      length: v.getBigUint64(at + 8, true),
      status: v.getInt32(at + 16, true),
      type: cString(buf.subarray(at + 24, at + 40)),
      params: cString(buf.subarray(at + DM_TARGET_SPEC_SIZE)),
    });
    at = dataStart + next;
  }
  return {
    flags: v.getUint32(28, true),
    openCount: v.getInt32(24, true),
    dev,
    major: (d >> 8) & 0xfff,
    minor: (d & 0xff) | ((d >> 12) & 0xfff00),
    targets,
  };
}

export interface VerityTableInput {
  dataDevice: string;
  hashDevice: string;
  dataBlocks: number;
  /** 1 when the hash file starts with the 512-byte verity superblock in its first 4096-byte block. */
  hashStartBlock: number;
  rootHash: string;
  /** Hex; "" for none. */
  salt: string;
}

/** The dm-verity target (one line of a table, as dmsetup would take it after the start/length). */
export function verityTarget(t: VerityTableInput): DmTarget {
  return {
    sectorStart: 0n,
    length: BigInt(t.dataBlocks) * 8n,
    type: "verity",
    params: `1 ${t.dataDevice} ${t.hashDevice} 4096 4096 ${t.dataBlocks} ${t.hashStartBlock} sha256 ${t.rootHash} ${t.salt === "" ? "-" : t.salt}`,
  };
}

/** The root hash field of a verity table line (`1 <data> <hash> 4096 4096 <n> <start> sha256 <root> <salt>`). */
export function verityRootFromTable(params: string): string | undefined {
  const f = params.trim().split(/\s+/);
  return f[0] === "1" && f[7] === "sha256" ? f[8] : undefined;
}

/** What dm-verity reports: "V" verified so far, "C" corruption seen. */
export type VerityHealth = "V" | "C" | "unknown";

export function verityHealthFromStatus(status: string): VerityHealth {
  const s = status.trim().split(/\s+/)[0];
  return s === "V" || s === "C" ? s : "unknown";
}

/** The device-mapper operations the module controller needs. */
export interface Dm {
  /** Creates, loads (read-only) and resumes `name` with one target; returns the block device path. */
  create(name: string, target: DmTarget): string;
  /** The active table line (params) and the target status line. */
  status(name: string): { table: string; status: string };
  remove(name: string): void;
}

/**
 * The real device-mapper, through /dev/mapper/control. devtmpfs makes /dev/dm-N; `create` links
 * /dev/mapper/<name> to it and returns that path.
 */
export function createDm(devDir = "/dev"): Dm {
  const call = (cmd: number, input: DmIoctlInput, what: string): DmIoctlResult => {
    let size = input.size ?? 16 * 1024;
    for (;;) {
      const buf = dmIoctlStruct({ ...input, size });
      const fd = openSync(`${devDir}/mapper/control`, "r+");
      try {
        ioctl(fd, dmRequest(cmd), buf, what);
      } finally {
        closeSync(fd);
      }
      const r = parseDmIoctl(buf);
      if (r.flags & DM_BUFFER_FULL_FLAG && size < 1 << 20) {
        size *= 4;
        continue;
      }
      return r;
    }
  };
  return {
    create(name, target) {
      const created = call(DM_CMD.devCreate, { name, flags: DM_READONLY_FLAG }, `DM_DEV_CREATE ${name}`);
      try {
        call(
          DM_CMD.tableLoad,
          { name, flags: DM_READONLY_FLAG, targets: [target] },
          `DM_TABLE_LOAD ${name} (${target.type} ${target.params})`,
        );
        // DM_DEV_SUSPEND without DM_SUSPEND_FLAG resumes: the loaded table becomes live.
        call(DM_CMD.devSuspend, { name }, `DM_DEV_SUSPEND(resume) ${name}`);
      } catch (err) {
        try {
          call(DM_CMD.devRemove, { name }, `DM_DEV_REMOVE ${name}`);
        } catch {
          // Reported through the original error.
        }
        throw err;
      }
      // No udev: name the device under /dev/mapper as dmsetup users expect (devtmpfs made dm-N).
      const link = `${devDir}/mapper/${name}`;
      rmSync(link, { force: true });
      symlinkSync(`../dm-${created.minor}`, link);
      return link;
    },
    status(name) {
      const t = call(DM_CMD.tableStatus, { name, flags: DM_STATUS_TABLE_FLAG }, `DM_TABLE_STATUS ${name}`);
      const s = call(DM_CMD.tableStatus, { name }, `DM_TABLE_STATUS ${name}`);
      return { table: t.targets[0]?.params ?? "", status: s.targets[0]?.params ?? "" };
    },
    remove(name) {
      call(DM_CMD.devRemove, { name }, `DM_DEV_REMOVE ${name}`);
      rmSync(`${devDir}/mapper/${name}`, { force: true });
    },
  };
}
