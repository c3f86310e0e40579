/**
 * Builds a tree from a directory on disk, as `mkcomposefs --digest-store` (containers/composefs 1.0.8)
 * does, so that both give the same image and digest: lstat metadata with signed, nanosecond mtimes, xattrs,
 * symlinks, devices, FIFOs, sockets, 0:0 character devices as whiteouts, files of at most 64 bytes inline
 * and larger ones by fs-verity digest (holes of sparse files hashed without reading them), optionally
 * copied into an object store.
 *
 * Hardlinks: like mkcomposefs, every name is its own inode (link count 1) by default. `hardlinks: true`
 * keeps names of one inode as one node (one inode in the image, link count = its names); the image then
 * differs from what mkcomposefs makes for the same directory, from the superblock's inode count on.
 *
 * Syscalls go through fs-ffi.ts relative to open directories; regular files are read and digested by
 * file-digests.ts.
 */
import { RECOMMENDED_INLINE_MAX } from "./erofs-format.ts";
import { digestFileAt, type FileRead, failStat } from "./file-digests.ts";
import {
  AT_FDCWD,
  closeFd,
  O_DIRECTORY,
  O_RDONLY_NOFOLLOW,
  openAt,
  readDirFd,
  readLinkAt,
  readXattrsFd,
  type Stat,
  statAt,
} from "./fs-ffi.ts";
import { readXattrs } from "./libc-ffi.ts";
import type { ObjectStore } from "./object-store.ts";
import type { DirNode, FileNode, NodeMeta, TreeNode, Xattr } from "./tree.ts";
import { digestToPath } from "./tree.ts";

/** Options for {@link treeFromDirectory}. */
export interface TreeFromDirectoryOptions {
  /** Copy external file contents here (by digest). Without it only digests are computed. */
  store?: ObjectStore;
  /** Files up to this size are stored inline in the image (default 64, libcomposefs' recommendation). */
  inlineMax?: number;
  /** Read xattrs (default true). */
  xattrs?: boolean;
  /**
   * Keep hardlinks: names of one inode become one node (default false: every name its own node, as
   * mkcomposefs does; only then are image and digest mkcomposefs').
   */
  hardlinks?: boolean;
}

const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;

/** Reads `dir` (a byte-string or ordinary path) into a tree. Throws with the offending path on I/O errors. */
export function treeFromDirectory(dir: string, opts: TreeFromDirectoryOptions = {}): DirNode {
  const inlineMax = opts.inlineMax ?? RECOMMENDED_INLINE_MAX;
  const withXattrs = opts.xattrs ?? true;
  return walkDirectory(dir, opts, (dirfd, name, path, st) =>
    fileNode(st, digestFileAt(dirfd, name, path, st.size, inlineMax, withXattrs, opts.store)),
  );
}

/** Builds a regular file's node from what was read of it. */
export function fileNode(st: Stat, r: FileRead): FileNode {
  const m = nodeMeta(st, r.xattrs);
  if (st.size === 0) return { ...m, type: "file", size: 0 };
  if (r.content) return { ...m, type: "file", size: st.size, content: r.content };
  const digest = r.digest as Uint8Array;
  return { ...m, type: "file", size: st.size, digest, redirect: digestToPath(digest) };
}

export function nodeMeta(st: Stat, xattrs: Xattr[]): NodeMeta {
  return {
    perm: st.mode & 0o7777,
    uid: st.uid,
    gid: st.gid,
    mtimeSec: st.mtimeSec,
    mtimeNsec: st.mtimeNsec,
    xattrs,
  };
}

/** Makes the node of a regular file (`path` names it; it is `name` in the open directory `dirfd`). */
export type RegularFileReader = (dirfd: number, name: string, path: string, st: Stat) => FileNode;

/**
 * The walk itself: every entry lstat'ed, directories and the non-regular types read here, regular files
 * made by `regular` (read at once, or queued for other threads: tree-from-directory-parallel.ts).
 */
export function walkDirectory(
  dir: string,
  opts: TreeFromDirectoryOptions,
  regular: RegularFileReader,
): DirNode {
  const withXattrs = opts.xattrs ?? true;
  const byIno = opts.hardlinks ? new Map<string, TreeNode>() : undefined;
  const top = dir.replace(/\/+$/, "") || "/";

  const readDir = (fd: number, path: string, st: Stat): DirNode => {
    const d: DirNode = {
      ...nodeMeta(st, withXattrs ? readXattrsFd(fd) : []),
      type: "dir",
      children: new Map(),
    };
    for (const [name] of readDirFd(fd)) {
      const p = `${path}/${name}`;
      const cst = statAt(fd, name) ?? failStat(p);
      const fmt = cst.mode & S_IFMT;
      if (fmt === S_IFDIR) {
        const cfd = openAt(fd, name, O_DIRECTORY | O_RDONLY_NOFOLLOW);
        if (cfd < 0) failStat(p, "open");
        try {
          d.children.set(name, readDir(cfd, p, cst));
        } finally {
          closeFd(cfd);
        }
        continue;
      }
      if (byIno && cst.nlink > 1) {
        const key = `${cst.dev}:${cst.ino}`;
        const prior = byIno.get(key);
        if (prior) {
          d.children.set(name, prior);
          continue;
        }
        const made = leaf(fd, name, p, cst, fmt);
        byIno.set(key, made);
        d.children.set(name, made);
      } else d.children.set(name, leaf(fd, name, p, cst, fmt));
    }
    return d;
  };

  const leaf = (dirfd: number, name: string, path: string, st: Stat, fmt: number): TreeNode => {
    if (fmt === S_IFREG) return regular(dirfd, name, path, st);
    // Not opened (symlinks, devices, FIFOs, sockets): xattrs by path, never following a symlink; the
    // kernel lists but refuses to read user.* on symlinks and devices, as for mkcomposefs.
    const m = nodeMeta(st, withXattrs ? readXattrs(path) : []);
    switch (fmt) {
      case 0o120000:
        return { ...m, type: "symlink", target: readLinkAt(dirfd, name) };
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

  const st = statAt(AT_FDCWD, top) ?? failStat(top);
  if ((st.mode & S_IFMT) !== S_IFDIR) throw new Error(`${dir}: not a directory`);
  const fd = openAt(AT_FDCWD, top, O_DIRECTORY | O_RDONLY_NOFOLLOW);
  if (fd < 0) failStat(top, "open");
  try {
    return readDir(fd, top, st);
  } finally {
    closeFd(fd);
  }
}
