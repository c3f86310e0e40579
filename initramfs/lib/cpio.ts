/**
 * A reproducible writer for the "newc" cpio format (the one the kernel unpacks as initramfs;
 * see Documentation/driver-api/early-userspace/buffer-format.rst). Pure: entries in, bytes out.
 *
 * Reproducibility rules applied here, not by callers: entries are sorted by path, inode numbers
 * are assigned 1..n in that order, uid/gid are 0, every mtime is the one given, and the archive
 * ends with the `TRAILER!!!` record. The same entries therefore always give the same bytes.
 */

/** One archive member. Paths are relative (`bin/busybox`), without a leading slash. */
export type CpioEntry =
  | { kind: "dir"; path: string; mode: number }
  | { kind: "file"; path: string; mode: number; data: Uint8Array }
  | { kind: "symlink"; path: string; target: string }
  | { kind: "chardev"; path: string; mode: number; major: number; minor: number };

export interface CpioOptions {
  /** Seconds since the epoch written as every member's mtime (e.g. SOURCE_DATE_EPOCH). */
  mtime: number;
}

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;
const HEADER_LEN = 110;
const TRAILER = "TRAILER!!!";
const enc = new TextEncoder();

function pad4(n: number): number {
  return (4 - (n % 4)) % 4;
}

function hex8(n: number): string {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) {
    throw new RangeError(`cpio: field value ${n} does not fit 8 hex digits`);
  }
  return n.toString(16).padStart(8, "0");
}

/** Throws on paths the kernel unpacker would mishandle (absolute, `..`, empty parts). */
export function assertCpioPath(path: string): void {
  if (path === "" || path.startsWith("/") || path.endsWith("/")) {
    throw new Error(`cpio: bad path ${JSON.stringify(path)}: must be relative, without trailing slash`);
  }
  for (const part of path.split("/")) {
    if (part === "" || part === "." || part === "..") {
      throw new Error(`cpio: bad path ${JSON.stringify(path)}: empty, "." or ".." component`);
    }
  }
}

interface Member {
  name: Uint8Array;
  mode: number;
  nlink: number;
  data: Uint8Array;
  rdevMajor: number;
  rdevMinor: number;
}

function toMember(e: CpioEntry): Member {
  const base = { name: enc.encode(e.path), rdevMajor: 0, rdevMinor: 0 };
  switch (e.kind) {
    case "dir":
      return { ...base, mode: S_IFDIR | (e.mode & 0o7777), nlink: 2, data: new Uint8Array() };
    case "file":
      return { ...base, mode: S_IFREG | (e.mode & 0o7777), nlink: 1, data: e.data };
    case "symlink":
      return { ...base, mode: S_IFLNK | 0o777, nlink: 1, data: enc.encode(e.target) };
    case "chardev":
      return {
        ...base,
        mode: S_IFCHR | (e.mode & 0o7777),
        nlink: 1,
        data: new Uint8Array(),
        rdevMajor: e.major,
        rdevMinor: e.minor,
      };
  }
}

function memberSize(m: Member): number {
  const nameLen = m.name.length + 1;
  return HEADER_LEN + nameLen + pad4(HEADER_LEN + nameLen) + m.data.length + pad4(m.data.length);
}

function writeMember(out: Uint8Array, at: number, m: Member, ino: number, mtime: number): number {
  const nameLen = m.name.length + 1;
  const fields = [
    ino,
    m.mode,
    0,
    0,
    m.nlink,
    mtime,
    m.data.length,
    0,
    0,
    m.rdevMajor,
    m.rdevMinor,
    nameLen,
    0,
  ];
  const header = `070701${fields.map(hex8).join("")}`;
  let p = at;
  out.set(enc.encode(header), p);
  p += HEADER_LEN;
  out.set(m.name, p);
  p += nameLen + pad4(HEADER_LEN + nameLen); // NUL and padding are already zero
  out.set(m.data, p);
  p += m.data.length + pad4(m.data.length);
  return p;
}

/**
 * Serialises entries into one newc archive.
 * @example writeCpio([{ kind: "dir", path: "bin", mode: 0o755 }], { mtime: 0 })
 */
export function writeCpio(entries: readonly CpioEntry[], opts: CpioOptions): Uint8Array {
  const sorted = [...entries].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  for (let i = 0; i < sorted.length; i++) {
    const e = sorted[i] as CpioEntry;
    assertCpioPath(e.path);
    if (i > 0 && (sorted[i - 1] as CpioEntry).path === e.path) {
      throw new Error(`cpio: duplicate path ${e.path}`);
    }
  }
  const members = sorted.map(toMember);
  const trailer: Member = {
    name: enc.encode(TRAILER),
    mode: 0,
    nlink: 1,
    data: new Uint8Array(),
    rdevMajor: 0,
    rdevMinor: 0,
  };
  const total = members.reduce((n, m) => n + memberSize(m), 0) + memberSize(trailer);
  const out = new Uint8Array(total);
  let p = 0;
  members.forEach((m, i) => {
    p = writeMember(out, p, m, i + 1, opts.mtime);
  });
  p = writeMember(out, p, trailer, 0, 0);
  if (p !== total) throw new Error(`cpio: internal size mismatch ${p} != ${total}`);
  return out;
}
