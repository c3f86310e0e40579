/**
 * libc calls Bun has no API for, via bun:ffi: extended attributes by path (`llistxattr` / `lgetxattr` /
 * `lsetxattr`), never following symlinks. Names are byte strings, values bytes. (The directory reader's
 * fd-relative calls are in fs-ffi.ts.)
 */
import { dlopen, FFIType, ptr } from "bun:ffi";
import type { Xattr } from "./tree.ts";

type Lib = {
  symbols: {
    llistxattr: (path: number, list: number | null, size: number) => number | bigint;
    lgetxattr: (path: number, name: number, value: number | null, size: number) => number | bigint;
    lsetxattr: (path: number, name: number, value: number | null, size: number, flags: number) => number;
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
    }) as unknown as Lib;
  }
  return lib;
}

// Dedicated memory, never a pool slice; ptr() taken at each call (see fs-ffi.ts on cached addresses).
const PATH_BUF = Buffer.from(new ArrayBuffer(16384));
const LIST_BUF = Buffer.from(new ArrayBuffer(65536));

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
  const pp = ptr(p);
  const size = Number(l.llistxattr(pp, ptr(LIST_BUF), LIST_BUF.length));
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
