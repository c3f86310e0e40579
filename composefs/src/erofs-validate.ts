/**
 * Input validation for the composefs writer: every problem names the path in the tree.
 */
import * as F from "./erofs-format.ts";
import { MAX_FILE_SIZE, type TreeNode } from "./tree.ts";

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

/** Checks a directory entry name (1..255 bytes, no "/" or NUL); the problem, or undefined. */
export function validateName(name: string): string | undefined {
  if (name.length === 0 || name.length > 255) return `name length ${name.length} not in 1..255`;
  if (name.includes("/") || name.includes("\0")) return "name contains '/' or NUL";
  return undefined;
}

const u32 = (v: number): boolean => Number.isInteger(v) && v >= 0 && v <= 0xffffffff;

/** Checks ranges and sizes of one node before layout; the problem, or undefined. */
export function validateNode(n: TreeNode): string | undefined {
  if (!u32(n.uid)) return `uid ${n.uid} out of range`;
  if (!u32(n.gid)) return `gid ${n.gid} out of range`;
  if (!u32(n.mtimeNsec)) return `mtime nsec ${n.mtimeNsec} out of range`;
  if (!Number.isSafeInteger(n.mtimeSec)) return `mtime ${n.mtimeSec} out of range`;
  if (n.nlink !== undefined && n.type !== "dir" && !u32(n.nlink)) return `nlink ${n.nlink} out of range`;
  for (const x of n.xattrs) {
    if (x.name.length === 0 || (x.name.length > 255 && prefixIndex(x.name)[1].length > 255))
      return `xattr name ${JSON.stringify(x.name)} too long`;
    if (x.value.length > 0xffff) return `xattr ${x.name} value too long`;
  }
  switch (n.type) {
    case "symlink":
      if (n.target.length === 0 || n.target.length > 4095 || n.target.includes("\0"))
        return `symlink target length ${n.target.length} not in 1..4095 or contains NUL`;
      return undefined;
    case "file": {
      const sizeOk =
        typeof n.size === "bigint"
          ? n.size >= 0n && n.size <= MAX_FILE_SIZE
          : Number.isSafeInteger(n.size) && n.size >= 0;
      if (!sizeOk) return `size ${n.size} out of range 0..2^64-1`;
      if (n.content && n.content.length !== n.size) return "inline content length differs from size";
      if (n.content && n.content.length > F.INLINE_CONTENT_MAX)
        return `inline content over ${F.INLINE_CONTENT_MAX} bytes`;
      if (n.digest && n.digest.length !== 32) return "digest is not 32 bytes";
      if (n.redirect !== undefined && (n.redirect.length > 4095 || n.redirect.includes("\0")))
        return "bad redirect";
      return undefined;
    }
    case "chardev":
      if (n.rdev === 0) return "a 0:0 character device must be given as a whiteout node";
      return u32(n.rdev) ? undefined : `rdev ${n.rdev} out of range`;
    case "blockdev":
      return u32(n.rdev) ? undefined : `rdev ${n.rdev} out of range`;
    default:
      return undefined;
  }
}
