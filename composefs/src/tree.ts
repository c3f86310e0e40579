/**
 * The in-memory filesystem tree that composefs images are written from and read back into.
 *
 * Names, symlink targets, redirect payloads and xattr names are *byte strings*: JS strings holding one
 * character per byte (latin1), so any byte but `/` and NUL survives and `<` on strings is byte-wise
 * `strcmp` order. Use {@link bytesToName} / {@link nameToBytes} (or {@link utf8Name}) at the edges.
 * A hardlink is the same non-directory node object reachable under two names.
 */

/** One extended attribute; `name` is a byte string such as `"user.foo"`. */
export interface Xattr {
  name: string;
  value: Uint8Array;
}

/** Metadata every inode carries. */
export interface NodeMeta {
  /** Permission bits including setuid/setgid/sticky (`mode & 0o7777`). */
  perm: number;
  uid: number;
  gid: number;
  /** Seconds since the epoch; negative before 1970 (EROFS stores it as a signed 64-bit value). */
  mtimeSec: number;
  mtimeNsec: number;
  xattrs: Xattr[];
  /**
   * Link count to record for a non-directory, as a source states it (a dump line's nlink field, an image's
   * inode). Unset: the number of names the node has in the tree. Ignored for directories (2 + subdirectories).
   */
  nlink?: number;
}

/** A directory; `children` maps a byte-string name to a node (never `.` or `..`). */
export interface DirNode extends NodeMeta {
  type: "dir";
  children: Map<string, TreeNode>;
}

/** A regular file: inline `content`, or external data named by `redirect` / `digest`. */
export interface FileNode extends NodeMeta {
  type: "file";
  /**
   * Size in bytes, 0..2^64-1. A `number` up to `Number.MAX_SAFE_INTEGER`; larger sizes (sparse files, dump
   * text) are a `bigint`, so every size EROFS can record is exact. Use {@link sizeToBigInt} for arithmetic.
   */
  size: FileSize;
  /** Inline content (stored in the image); its length equals `size`. */
  content?: Uint8Array;
  /** fs-verity sha256 digest of the content (32 bytes), written as `trusted.overlay.metacopy`. */
  digest?: Uint8Array;
  /** Path of the data in the object store, e.g. `ab/cdef…` (written as redirect `"/" + redirect`). */
  redirect?: string;
}

/**
 * For a node under several names: the directory of the name that defined it (a dump's non-`@` line), where
 * mkcomposefs gives it its inode slot. Set by parseDump; without it the writer uses the first name in
 * depth-first byte order (which is that line whenever the targets of hardlink lines come first).
 */
export const ORIGINAL_DIR = new WeakMap<TreeNode, DirNode>();

/** A file size: a number when safe, a bigint above 2^53 - 1 (see {@link FileNode.size}). */
export type FileSize = number | bigint;

/** Largest file size EROFS records (its i_size is 64 bits). */
export const MAX_FILE_SIZE = (1n << 64n) - 1n;

/** A size as a bigint. */
export function sizeToBigInt(s: FileSize): bigint {
  return typeof s === "bigint" ? s : BigInt(s);
}

/** The canonical form of a size: a number when it is a safe integer, else a bigint. */
export function normalizeSize(s: bigint): FileSize {
  return s <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(s) : s;
}

/** A symbolic link; `target` is a byte string of 1..4095 bytes. */
export interface SymlinkNode extends NodeMeta {
  type: "symlink";
  target: string;
}

/** A character or block device; `rdev` as the kernel's `new_encode_dev` (major << 8 | minor, …). */
export interface DeviceNode extends NodeMeta {
  type: "chardev" | "blockdev";
  rdev: number;
}

/** A FIFO or socket. */
export interface SpecialNode extends NodeMeta {
  type: "fifo" | "socket";
}

/** An overlay whiteout (a 0:0 character device in the source tree). */
export interface WhiteoutNode extends NodeMeta {
  type: "whiteout";
}

/** Any node of the tree. */
export type TreeNode = DirNode | FileNode | SymlinkNode | DeviceNode | SpecialNode | WhiteoutNode;

/** File-type bits for each node type (S_IFMT values). */
export const S_IFMT = 0o170000;
export const TYPE_BITS: Record<TreeNode["type"], number> = {
  dir: 0o040000,
  file: 0o100000,
  symlink: 0o120000,
  chardev: 0o020000,
  blockdev: 0o060000,
  fifo: 0o010000,
  socket: 0o140000,
  whiteout: 0o020000,
};

/** Full `st_mode` of a node. */
export function modeOf(n: TreeNode): number {
  return TYPE_BITS[n.type] | (n.perm & 0o7777);
}

/** Byte string from raw bytes (one char per byte); short values (most names, xattrs) without a Buffer. */
export function bytesToName(b: Uint8Array): string {
  if (b.length === 0) return "";
  if (b.length <= 64) return String.fromCharCode.apply(null, b as unknown as number[]);
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("latin1");
}

/** Raw bytes of a byte string. */
export function nameToBytes(s: string): Uint8Array {
  return Buffer.from(s, "latin1");
}

/** Byte string of the UTF-8 encoding of `s` (for building trees from ordinary text names). */
export function utf8Name(s: string): string {
  return Buffer.from(s, "utf8").toString("latin1");
}

/** Default metadata: root-owned, mtime 0, no xattrs. */
export function defaultMeta(perm: number): NodeMeta {
  return { perm, uid: 0, gid: 0, mtimeSec: 0, mtimeNsec: 0, xattrs: [] };
}

/** A new empty directory. */
export function createDir(meta: Partial<NodeMeta> = {}): DirNode {
  return { ...defaultMeta(0o755), ...meta, type: "dir", children: new Map() };
}

/** Content-addressed object path for a digest: `ab/cdef…` (first byte as directory). */
export function digestToPath(digest: Uint8Array): string {
  const hex = Buffer.from(digest.buffer, digest.byteOffset, digest.byteLength).toString("hex");
  return `${hex.slice(0, 2)}/${hex.slice(2)}`;
}

/** Visits every (path, node) pair depth-first in byte order; hardlinked nodes are visited once per name. */
export function* walkTree(root: DirNode, prefix = ""): Generator<[string, TreeNode]> {
  const stack: [string, TreeNode][] = [];
  const pushChildren = (d: DirNode, at: string): void => {
    const names = [...d.children.keys()].sort(compareBytes);
    for (let i = names.length - 1; i >= 0; i--) {
      const name = names[i] as string;
      stack.push([`${at}/${name}`, d.children.get(name) as TreeNode]);
    }
  };
  pushChildren(root, prefix);
  for (let top = stack.pop(); top; top = stack.pop()) {
    yield top;
    if (top[1].type === "dir") pushChildren(top[1], top[0]);
  }
}

/** Byte-wise comparison of byte strings (strcmp order). */
export function compareBytes(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
