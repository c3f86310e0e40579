/**
 * Builds a tree from a directory on disk, as `mkcomposefs --digest-store` does: lstat metadata with
 * nanosecond mtimes, xattrs through libc, symlinks, devices, FIFOs, sockets, hardlinks (same inode → same
 * node), 0:0 character devices as whiteouts, small files inline and larger files by fs-verity digest,
 * optionally copied into an object store.
 */
import { closeSync, lstatSync, openSync, readdirSync, readlinkSync, readSync } from "node:fs";
import { RECOMMENDED_INLINE_MAX } from "./erofs-format.ts";
import { createFsVerityHasher, fsVerityDigest } from "./fsverity.ts";
import { lstatx, readXattrs, type StatX } from "./libc-ffi.ts";
import type { ObjectStore } from "./object-store.ts";
import type { DirNode, NodeMeta, TreeNode } from "./tree.ts";
import { digestToPath } from "./tree.ts";

/** Options for {@link treeFromDirectory}. */
export interface TreeFromDirectoryOptions {
  /** Copy external file contents here (by digest). Without it only digests are computed. */
  store?: ObjectStore;
  /** Files up to this size are stored inline in the image (default 64, libcomposefs' recommendation). */
  inlineMax?: number;
  /** Read xattrs (default true). */
  xattrs?: boolean;
}

const S_IFMT = 0o170000;
const enc = (p: string): Buffer => Buffer.from(p, "latin1");

/** Reads `dir` (a byte-string or ordinary path) into a tree. Throws with the offending path on I/O errors. */
export function treeFromDirectory(dir: string, opts: TreeFromDirectoryOptions = {}): DirNode {
  const inlineMax = opts.inlineMax ?? RECOMMENDED_INLINE_MAX;
  const withXattrs = opts.xattrs ?? true;
  const byIno = new Map<string, TreeNode>();
  const buf = new Uint8Array(1 << 20);

  const meta = (path: string, st: StatX): NodeMeta => {
    return {
      perm: st.mode & 0o7777,
      uid: st.uid,
      gid: st.gid,
      mtimeSec: st.mtimeSec,
      mtimeNsec: st.mtimeNsec,
      xattrs: withXattrs ? readXattrs(path) : [],
    };
  };

  const readFile = (path: string, size: number): { digest: Uint8Array; content?: Uint8Array } => {
    const fd = openSync(enc(path), "r");
    let content: Uint8Array | undefined;
    if (size < buf.length) {
      // Common case: one read of size+1 bytes proves the size and gives the whole content.
      try {
        const n = readSync(fd, buf, 0, size + 1, 0);
        if (n !== size) throw new Error(`${path}: size changed while reading (${size} -> ${n}+)`);
      } finally {
        closeSync(fd);
      }
      const data = buf.subarray(0, size);
      const digest = fsVerityDigest(data);
      if (size <= inlineMax) return { digest, content: data.slice() };
      opts.store?.addBytes(digest, data);
      return { digest };
    }
    const h = createFsVerityHasher();
    try {
      // Large file: stream it (the store copies it by path afterwards).
      if (size <= inlineMax) content = new Uint8Array(size);
      let off = 0;
      for (;;) {
        const n = readSync(fd, buf, 0, buf.length, null);
        if (n <= 0) break;
        if (content && off + n <= size) content.set(buf.subarray(0, n), off);
        h.update(buf.subarray(0, n));
        off += n;
      }
      if (off !== size) throw new Error(`${path}: size changed while reading (${size} -> ${off})`);
    } finally {
      closeSync(fd);
    }
    return { digest: h.digest(), ...(content ? { content } : {}) };
  };

  const node = (path: string): TreeNode => {
    const st = lstatx(path) ?? failStat(path);
    const fmt = st.mode & S_IFMT;
    if (fmt !== 0o040000 && st.nlink > 1) {
      const key = `${st.dev}:${st.ino}`;
      const prior = byIno.get(key);
      if (prior) return prior;
      const made = leaf(path, st, fmt);
      byIno.set(key, made);
      return made;
    }
    if (fmt === 0o040000) {
      const d: DirNode = { ...meta(path, st), type: "dir", children: new Map() };
      for (const name of readdirSync(enc(path), { encoding: "buffer" })) {
        const n = name.toString("latin1");
        d.children.set(n, node(`${path}/${n}`));
      }
      return d;
    }
    return leaf(path, st, fmt);
  };

  const leaf = (path: string, st: StatX, fmt: number): TreeNode => {
    const m = meta(path, st);
    switch (fmt) {
      case 0o100000: {
        const size = st.size;
        if (size === 0) return { ...m, type: "file", size: 0 };
        if (size <= inlineMax) {
          const { content } = readFile(path, size);
          return { ...m, type: "file", size, content: content as Uint8Array };
        }
        const { digest } = readFile(path, size);
        if (size >= buf.length) opts.store?.addFile(digest, enc(path));
        return { ...m, type: "file", size, digest, redirect: digestToPath(digest) };
      }
      case 0o120000:
        return {
          ...m,
          type: "symlink",
          target: readlinkSync(enc(path), { encoding: "buffer" }).toString("latin1"),
        };
      case 0o020000:
        return st.rdev === 0 ? { ...m, type: "whiteout" } : { ...m, type: "chardev", rdev: st.rdev };
      case 0o060000:
        return { ...m, type: "blockdev", rdev: st.rdev };
      case 0o010000:
        return { ...m, type: "fifo" };
      case 0o140000:
        return { ...m, type: "socket" };
      default:
        throw new Error(`${path}: unsupported file type 0o${fmt.toString(8)}`);
    }
  };

  const root = node(dir.replace(/\/+$/, "") || "/");
  if (root.type !== "dir") throw new Error(`${dir}: not a directory`);
  return root;
}

/** statx failed: let lstat throw the real error (with errno and path); Bun's FFI does not expose errno. */
function failStat(path: string): never {
  lstatSync(enc(path));
  throw new Error(`${path}: statx failed but lstat succeeded`);
}
