/**
 * Reads one regular file for the directory reader: its xattrs (from the open file), then either its
 * content (inline files: no digest needed, mkcomposefs does not use one) or its fs-verity digest, copying
 * it into the object store when one is given. Files of up to 1 MiB are read in one `pread`; larger ones
 * are streamed extent by extent (`SEEK_DATA`/`SEEK_HOLE`), their holes hashed without being read.
 */

import { ptr } from "bun:ffi";
import { lstatSync } from "node:fs";
import {
  closeFd,
  O_RDONLY_NOFOLLOW,
  openAt,
  preadInto,
  readXattrsFd,
  SEEK_DATA,
  SEEK_HOLE,
  seek,
} from "./fs-ffi.ts";
import { createFsVerityHasher, fsVerityDigest } from "./fsverity.ts";
import type { ObjectStore } from "./object-store.ts";
import type { FileSize, Xattr } from "./tree.ts";

const BUF = new Uint8Array(new ArrayBuffer(1 << 20));

/** A syscall failed: let node:fs throw the real error (with errno and path); Bun's FFI does not expose errno. */
export function failStat(path: string, what = "statx"): never {
  lstatSync(Buffer.from(path, "latin1"));
  throw new Error(`${path}: ${what} failed`);
}

/** What {@link digestFileAt} read. */
export interface FileRead {
  xattrs: Xattr[];
  /** The content, for files of at most `inlineMax` bytes. */
  content?: Uint8Array;
  /** The fs-verity digest, for larger files. */
  digest?: Uint8Array;
}

/** Reads `name` in the open directory `dirfd` (`path` names it in errors). */
export function digestFileAt(
  dirfd: number,
  name: string,
  path: string,
  size: FileSize,
  inlineMax: number,
  withXattrs: boolean,
  store: ObjectStore | undefined,
): FileRead {
  const fd = openAt(dirfd, name, O_RDONLY_NOFOLLOW);
  if (fd < 0) failStat(path, "open");
  try {
    const xattrs = withXattrs ? readXattrsFd(fd) : [];
    if (size === 0) return { xattrs };
    if (typeof size === "number" && size < BUF.length) {
      // One read of size+1 bytes proves the size and gives the whole content.
      const n = preadInto(fd, ptr(BUF), size + 1, 0);
      if (n !== size) throw new Error(`${path}: size changed while reading (${size} -> ${n})`);
      const data = BUF.subarray(0, size);
      if (size <= inlineMax) return { xattrs, content: data.slice() };
      const digest = fsVerityDigest(data);
      store?.addBytes(digest, data);
      return { xattrs, digest };
    }
    const digest = digestExtents(fd, path, BigInt(size));
    store?.addFile(digest, Buffer.from(path, "latin1"));
    return { xattrs, digest };
  } finally {
    closeFd(fd);
  }
}

/** fs-verity digest of an open file of `size` bytes, data extents read, holes fed as zeros. */
function digestExtents(fd: number, path: string, size: bigint): Uint8Array {
  const h = createFsVerityHasher();
  let off = 0n;
  while (off < size) {
    let data = seek(fd, off, SEEK_DATA);
    if (data < 0n || data > size) data = size; // no data after off (ENXIO), or a file that shrank
    h.updateZeros(data - off);
    if (data >= size) break;
    let end = seek(fd, data, SEEK_HOLE);
    if (end < 0n || end > size) end = size;
    for (let at = data; at < end; ) {
      const want = Number(end - at < BigInt(BUF.length) ? end - at : BigInt(BUF.length));
      const n = preadInto(fd, ptr(BUF), want, at);
      if (n <= 0) throw new Error(`${path}: size changed while reading (${size} -> ${at})`);
      h.update(BUF.subarray(0, n));
      at += BigInt(n);
    }
    off = end;
  }
  if (BigInt(h.size) !== size) throw new Error(`${path}: read ${h.size} bytes, size says ${size}`);
  return h.digest();
}
