/**
 * Input validation for the composefs writer: every problem names the path in the tree.
 */
import * as F from "./erofs-format.ts";
import type { TreeNode } from "./tree.ts";

/** A tree the writer cannot encode; the message names the path. */
export class WriterError extends Error {
  constructor(path: string, problem: string) {
    super(`composefs writer: ${path || "/"}: ${problem}`);
    this.name = "ComposefsWriterError";
  }
}

/** EROFS xattr prefix index of a full name and the remaining suffix (index 0 keeps the full name). */
export function prefixIndex(name: string): [number, string] {
  for (const [i, p] of F.XATTR_PREFIXES) if (name.startsWith(p)) return [i, name.slice(p.length)];
  return [0, name];
}

/** Checks a directory entry name (1..255 bytes, no "/" or NUL). */
export function validateName(name: string, path: () => string): void {
  if (name.length === 0 || name.length > 255)
    throw new WriterError(path(), `name length ${name.length} not in 1..255`);
  if (name.includes("/") || name.includes("\0")) throw new WriterError(path(), "name contains '/' or NUL");
}

/** Checks ranges and sizes of one node before layout. */
export function validateNode(n: TreeNode, path: () => string): void {
  const u32 = (v: number, what: string): void => {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff)
      throw new WriterError(path(), `${what} ${v} out of range`);
  };
  u32(n.uid, "uid");
  u32(n.gid, "gid");
  u32(n.mtimeNsec, "mtime nsec");
  if (!Number.isSafeInteger(n.mtimeSec) || n.mtimeSec < 0)
    throw new WriterError(path(), `mtime ${n.mtimeSec} out of range`);
  for (const x of n.xattrs) {
    const suffix = prefixIndex(x.name)[1];
    if (x.name.length === 0 || suffix.length > 255)
      throw new WriterError(path(), `xattr name ${JSON.stringify(x.name)} too long`);
    if (x.value.length > 0xffff) throw new WriterError(path(), `xattr ${x.name} value too long`);
  }
  if (n.type === "symlink" && (n.target.length === 0 || n.target.length > 4095 || n.target.includes("\0"))) {
    throw new WriterError(path(), `symlink target length ${n.target.length} not in 1..4095 or contains NUL`);
  }
  if (n.type === "file") {
    if (!Number.isSafeInteger(n.size) || n.size < 0 || n.size > 2 ** 52)
      throw new WriterError(path(), `size ${n.size} out of range`);
    if (n.content && n.content.length !== n.size)
      throw new WriterError(path(), "inline content length differs from size");
    if (n.content && n.size > F.INLINE_CONTENT_MAX)
      throw new WriterError(path(), `inline content over ${F.INLINE_CONTENT_MAX} bytes`);
    if (n.digest && n.digest.length !== 32) throw new WriterError(path(), "digest is not 32 bytes");
    if (n.redirect !== undefined && (n.redirect.length > 4095 || n.redirect.includes("\0")))
      throw new WriterError(path(), "bad redirect");
  }
  if ((n.type === "chardev" || n.type === "blockdev") && n.rdev === 0 && n.type === "chardev") {
    throw new WriterError(path(), "a 0:0 character device must be given as a whiteout node");
  }
  if (n.type === "chardev" || n.type === "blockdev") u32(n.rdev, "rdev");
}
