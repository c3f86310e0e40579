/**
 * libc calls Bun has no API for, via bun:ffi: extended attributes (`llistxattr` / `lgetxattr` /
 * `lsetxattr`) and `statx` (one syscall, nanosecond times, no per-call object churn). Never follows
 * symlinks. Names are byte strings, values bytes.
 */
import { dlopen, FFIType, ptr } from "bun:ffi";
import type { Xattr } from "./tree.ts";

type Lib = {
  symbols: {
    llistxattr: (path: number, list: number | null, size: number) => number | bigint;
    lgetxattr: (path: number, name: number, value: number | null, size: number) => number | bigint;
    lsetxattr: (path: number, name: number, value: number | null, size: number, flags: number) => number;
    statx: (dirfd: number, path: number, flags: number, mask: number, buf: number) => number;
  };
};

let lib: Lib | undefined;
function libc(): Lib {
  if (!lib) {
    lib = dlopen("libc.so.6", {
      llistxattr: { args: [FFIType.ptr, FFIType.ptr, FFIType.u64], returns: FFIType.i64 },
      lgetxattr: { args: [FFIType.ptr, FFIType.ptr, FFIType.ptr, FFIType.u64], returns: FFIType.i64 },
      lsetxattr: {
        args: [FFIType.ptr, FFIType.ptr, FFIType.ptr, FFIType.u64, FFIType.i32],
        returns: FFIType.i32,
      },
      statx: {
        args: [FFIType.i32, FFIType.ptr, FFIType.i32, FFIType.u32, FFIType.ptr],
        returns: FFIType.i32,
      },
    }) as unknown as Lib;
  }
  return lib;
}

const PATH_BUF = Buffer.from(new ArrayBuffer(16384)); // dedicated memory, never a pool slice
const PATH_PTR = ptr(PATH_BUF);
const LIST_BUF = Buffer.from(new ArrayBuffer(65536));
const LIST_PTR = ptr(LIST_BUF);

const cstr = (s: string | Uint8Array): Buffer => {
  const b = typeof s === "string" ? Buffer.from(s, "latin1") : Buffer.from(s);
  return Buffer.concat([b, Buffer.alloc(1)]);
};

/**
 * Lists and reads all xattrs of `path` (a byte-string path, not followed if a symlink), sorted by name.
 * `keep` selects names to read (the kernel lists but refuses to read user.* on symlinks and devices).
 */
export function readXattrs(path: string, keep: (name: string) => boolean = () => true): Xattr[] {
  const l = libc().symbols;
  // Common case: one llistxattr call into a reused 64 KiB buffer (the largest possible list), path bytes
  // written into a reused NUL-terminated buffer.
  const pathLen = Buffer.byteLength(path, "latin1");
  const p = pathLen < PATH_BUF.length ? PATH_BUF : Buffer.alloc(pathLen + 1);
  p.write(path, 0, "latin1");
  p[pathLen] = 0;
  const pp = p === PATH_BUF ? PATH_PTR : ptr(p);
  const size = Number(l.llistxattr(pp, LIST_PTR, LIST_BUF.length));
  if (size < 0) throw new Error(`llistxattr ${JSON.stringify(path)} failed`);
  if (size === 0) return [];
  const list = Buffer.from(LIST_BUF.subarray(0, size));
  const out: Xattr[] = [];
  let start = 0;
  for (let i = 0; i < list.length; i++) {
    if (list[i] !== 0) continue;
    const name = list.subarray(start, i).toString("latin1");
    start = i + 1;
    if (!keep(name)) continue;
    const n = cstr(name);
    const vlen = Number(l.lgetxattr(pp, ptr(n), null, 0));
    if (vlen < 0) throw new Error(`lgetxattr ${JSON.stringify(path)} ${name} failed`);
    const value = new Uint8Array(Math.max(vlen, 1));
    const got = vlen === 0 ? 0 : Number(l.lgetxattr(pp, ptr(n), ptr(value), vlen));
    if (got < 0) throw new Error(`lgetxattr ${JSON.stringify(path)} ${name} failed`);
    out.push({ name, value: value.slice(0, got) });
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Sets one xattr on `path` without following symlinks (used by tests to build source trees). */
export function writeXattr(path: string, name: string, value: Uint8Array): void {
  const v = Buffer.from(value);
  const r = libc().symbols.lsetxattr(ptr(cstr(path)), ptr(cstr(name)), v.length ? ptr(v) : null, v.length, 0);
  if (r !== 0) throw new Error(`lsetxattr ${JSON.stringify(path)} ${name} failed`);
}

/** What {@link lstatx} returns (a subset of `struct statx`). */
export interface StatX {
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  size: number;
  ino: number;
  dev: number;
  mtimeSec: number;
  mtimeNsec: number;
  /** Device number encoded as the kernel's new_encode_dev (what st_rdev holds for majors < 4096). */
  rdev: number;
}

const AT_FDCWD = -100;
const AT_SYMLINK_NOFOLLOW = 0x100;
const STATX_BASIC_STATS = 0x7ff;

/** `statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW)`; returns undefined on failure (call lstat for the errno). */
export function lstatx(path: string): StatX | undefined {
  const pathLen = Buffer.byteLength(path, "latin1");
  const p = pathLen < PATH_BUF.length ? PATH_BUF : Buffer.alloc(pathLen + 1);
  p.write(path, 0, "latin1");
  p[pathLen] = 0;
  // A fresh result buffer per call: with a reused one, JIT-compiled reads after the FFI call were seen
  // returning the previous call's values.
  const b = Buffer.allocUnsafe(256);
  const r = libc().symbols.statx(
    AT_FDCWD,
    p === PATH_BUF ? PATH_PTR : ptr(p),
    AT_SYMLINK_NOFOLLOW,
    STATX_BASIC_STATS,
    ptr(b),
  );
  if (r !== 0) return undefined;
  const u64 = (at: number): number => b.readUInt32LE(at) + b.readUInt32LE(at + 4) * 0x100000000;
  const major = b.readUInt32LE(128);
  const minor = b.readUInt32LE(132);
  return {
    nlink: b.readUInt32LE(16),
    uid: b.readUInt32LE(20),
    gid: b.readUInt32LE(24),
    mode: b.readUInt16LE(28),
    ino: u64(32),
    size: u64(40),
    mtimeSec: u64(112),
    mtimeNsec: b.readUInt32LE(120),
    rdev: ((minor & 0xff) | (major << 8) | ((minor & ~0xff) << 12)) >>> 0,
    dev: b.readUInt32LE(136) * 0x100000 + b.readUInt32LE(140),
  };
}
