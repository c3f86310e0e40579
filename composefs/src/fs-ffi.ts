/**
 * The directory reader's syscalls through bun:ffi, relative to an open directory (one path component
 * looked up per call, not a whole path): `openat`, `statx`, `getdents64`, `pread`, `lseek` (holes of sparse
 * files), `flistxattr`/`fgetxattr` on open files and directories, `readlinkat`. Results are read back with
 * `read.*` from fixed buffers (plain typed-array loads of memory the foreign call wrote can be stale in JIT
 * code). Names are byte strings (one char per byte).
 */
import { dlopen, FFIType, ptr, read } from "bun:ffi";
import type { Xattr } from "./tree.ts";

const { i32, u32, u64, i64, ptr: P } = FFIType;
type Symbols = {
  openat(dirfd: number, path: number, flags: number, mode: number): number;
  close(fd: number): number;
  pread(fd: number, buf: number, n: number, off: number | bigint): number;
  lseek(fd: number, off: number | bigint, whence: number): bigint;
  statx(dirfd: number, path: number, flags: number, mask: number, buf: number): number;
  getdents64(fd: number, buf: number, n: number): number;
  flistxattr(fd: number, list: number, n: number): number;
  fgetxattr(fd: number, name: number, value: number, n: number): number;
  readlinkat(dirfd: number, path: number, buf: number, n: number): number;
};
/** The whole dlopen result is kept: once it is collected, its compiled call stubs are freed. */
let lib: { symbols: Symbols } | undefined;

function libc(): Symbols {
  lib ??= dlopen("libc.so.6", {
    openat: { args: [i32, P, i32, u32], returns: i32 },
    close: { args: [i32], returns: i32 },
    pread: { args: [i32, P, u64, i64], returns: i32 },
    lseek: { args: [i32, i64, i32], returns: i64 },
    statx: { args: [i32, P, i32, u32, P], returns: i32 },
    getdents64: { args: [i32, P, u64], returns: i32 },
    flistxattr: { args: [i32, P, u64], returns: i32 },
    fgetxattr: { args: [i32, P, P, u64], returns: i32 },
    readlinkat: { args: [i32, P, P, u64], returns: i32 },
  }) as unknown as { symbols: Symbols };
  return lib.symbols;
}

/**
 * Fixed buffers (own ArrayBuffers). `ptr()` is taken at every call, never cached: with a cached address,
 * Bun 1.4.5 was seen to crash in the garbage collector after JIT-compiled calls wrote through it.
 */
const NAME = Buffer.from(new ArrayBuffer(4096 + 1));
const STX = new Uint8Array(new ArrayBuffer(256));
const DENTS = Buffer.from(new ArrayBuffer(1 << 16));
const LIST = Buffer.from(new ArrayBuffer(1 << 16));
const VALUE = new Uint8Array(new ArrayBuffer(1 << 16));
const XNAME = Buffer.from(new ArrayBuffer(256 + 1));

export const AT_FDCWD = -100;
export const O_RDONLY_NOFOLLOW = 0o400000 | 0o2000000; // O_NOFOLLOW | O_CLOEXEC
export const O_DIRECTORY = 0o200000;
const AT_SYMLINK_NOFOLLOW = 0x100;
const STATX_BASIC_STATS = 0x7ff;
export const SEEK_DATA = 3;
export const SEEK_HOLE = 4;

function name(s: string): number {
  if (s.length > 4096) throw new Error(`name of ${s.length} bytes is too long`);
  NAME[NAME.write(s, 0, "latin1")] = 0;
  return ptr(NAME);
}

/** `openat(dirfd, name, flags)`; a negative result is the failure (the caller re-runs a node:fs call for the errno). */
export function openAt(dirfd: number, path: string, flags: number): number {
  return libc().openat(dirfd, name(path), flags, 0);
}

export function closeFd(fd: number): void {
  libc().close(fd);
}

/** `pread` into `buf` (an own ArrayBuffer's view) at `bufPtr`. */
export function preadInto(fd: number, bufPtr: number, n: number, off: number | bigint): number {
  return libc().pread(fd, bufPtr, n, off);
}

/** `lseek`; -1n when there is no data (or hole) at or after `off`. */
export function seek(fd: number, off: bigint, whence: number): bigint {
  return libc().lseek(fd, off, whence);
}

/** What {@link statAt} returns. */
export interface Stat {
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  /** A number when safe, else a bigint. */
  size: number | bigint;
  mtimeSec: number;
  mtimeNsec: number;
  /** new_encode_dev of st_rdev. */
  rdev: number;
  ino: number;
  dev: number;
}

/** `statx(dirfd, name, AT_SYMLINK_NOFOLLOW)`; undefined on failure. */
export function statAt(dirfd: number, path: string): Stat | undefined {
  const STX_P = ptr(STX);
  if (libc().statx(dirfd, name(path), AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, STX_P) !== 0) return undefined;
  const sizeHi = read.u32(STX_P, 44);
  const sizeLo = read.u32(STX_P, 40);
  const major = read.u32(STX_P, 128);
  const minor = read.u32(STX_P, 132);
  return {
    mode: read.u16(STX_P, 28),
    nlink: read.u32(STX_P, 16),
    uid: read.u32(STX_P, 20),
    gid: read.u32(STX_P, 24),
    size: sizeHi < 0x200000 ? sizeHi * 0x100000000 + sizeLo : (BigInt(sizeHi) << 32n) | BigInt(sizeLo),
    // stx_mtime.tv_sec is signed: times before 1970 are negative.
    mtimeSec: read.i32(STX_P, 116) * 0x100000000 + read.u32(STX_P, 112),
    mtimeNsec: read.u32(STX_P, 120),
    rdev: ((minor & 0xff) | (major << 8) | ((minor & ~0xff) << 12)) >>> 0,
    ino: read.u32(STX_P, 36) * 0x100000000 + read.u32(STX_P, 32),
    dev: read.u32(STX_P, 136) * 0x100000 + read.u32(STX_P, 140),
  };
}

/** All entries of the open directory `fd` but `.` and `..`, as [name, d_type]. */
export function readDirFd(fd: number): [string, number][] {
  const out: [string, number][] = [];
  for (;;) {
    const DENTS_P = ptr(DENTS);
    const n = libc().getdents64(fd, DENTS_P, DENTS.length);
    if (n < 0) throw new Error("getdents64 failed");
    if (n === 0) return out;
    for (let off = 0; off < n; ) {
      const reclen = read.u16(DENTS_P, off + 16);
      const type = read.u8(DENTS_P, off + 18);
      const end = DENTS.indexOf(0, off + 19);
      const s = DENTS.toString("latin1", off + 19, end);
      if (s !== "." && s !== "..") out.push([s, type]);
      off += reclen;
    }
  }
}

/** All xattrs of the open file or directory `fd`, sorted by name; `keep` filters names. */
export function readXattrsFd(fd: number, keep?: (name: string) => boolean): Xattr[] {
  const l = libc();
  const size = l.flistxattr(fd, ptr(LIST), LIST.length);
  if (size <= 0) {
    if (size < 0) throw new Error("flistxattr failed");
    return [];
  }
  const names = LIST.toString("latin1", 0, size - 1).split("\0");
  const out: Xattr[] = [];
  for (const n of names) {
    if (keep && !keep(n)) continue;
    XNAME[XNAME.write(n, 0, "latin1")] = 0;
    const got = l.fgetxattr(fd, ptr(XNAME), ptr(VALUE), VALUE.length);
    if (got < 0) throw new Error(`fgetxattr ${n} failed`);
    out.push({ name: n, value: VALUE.slice(0, got) });
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** `readlinkat(dirfd, name)` as a byte string. */
export function readLinkAt(dirfd: number, path: string): string {
  const n = libc().readlinkat(dirfd, name(path), ptr(VALUE), VALUE.length);
  if (n < 0) throw new Error(`readlinkat ${JSON.stringify(path)} failed`);
  return Buffer.from(VALUE.buffer, 0, n).toString("latin1");
}
