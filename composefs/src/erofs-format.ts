/**
 * On-disk constants of composefs EROFS images (little-endian, 4096-byte blocks), shared by the writer and
 * the reader. Sources: linux fs/erofs/erofs_fs.h and libcomposefs lcfs-erofs.h (format credit: containers/
 * composefs, GPL-2.0-or-later OR Apache-2.0; reimplemented independently).
 */
export const BLOCK_SIZE = 4096;
export const BLOCK_BITS = 12;
export const SLOT_SIZE = 32;
export const SUPER_OFFSET = 1024;
export const SUPER_SIZE = 128;
export const COMPOSEFS_MAGIC = 0xd078629a;
export const COMPOSEFS_HEADER_VERSION = 1;
export const COMPOSEFS_FLAG_HAS_ACL = 1;
export const EROFS_MAGIC = 0xe0f5e1e2;
export const FEATURE_COMPAT_MTIME = 2;
export const FEATURE_COMPAT_XATTR_FILTER = 4;
export const COMPACT_INODE_SIZE = 32;
export const EXTENDED_INODE_SIZE = 64;
export const XATTR_IBODY_HEADER = 12;
export const XATTR_ENTRY_HEADER = 4;
export const XATTR_FILTER_SEED = 0x25bbe08f;
export const MAX_SHARED_XATTRS_PER_INODE = 128;
export const DIRENT_SIZE = 12;
export const NULL_CHUNK = 0xffffffff;
export const CHUNK_BLKBITS_MASK = 0x1f;
/** Largest inline regular-file content the writer accepts (libcomposefs' LCFS_INLINE_CONTENT_MAX). */
export const INLINE_CONTENT_MAX = 5000;
/** Inline threshold used when reading a directory (libcomposefs' recommended maximum). */
export const RECOMMENDED_INLINE_MAX = 64;

/** i_format data layouts. */
export const LAYOUT_FLAT_PLAIN = 0;
export const LAYOUT_FLAT_INLINE = 2;
export const LAYOUT_CHUNK_BASED = 4;

/** Dirent file types. */
export const FT = {
  unknown: 0,
  file: 1,
  dir: 2,
  chardev: 3,
  blockdev: 4,
  fifo: 5,
  socket: 6,
  symlink: 7,
} as const;

/** Xattr name prefixes by EROFS index (1..6); index 0 stores the full name. */
export const XATTR_PREFIXES: ReadonlyArray<readonly [number, string]> = [
  [1, "user."],
  [2, "system.posix_acl_access"],
  [3, "system.posix_acl_default"],
  [4, "trusted."],
  [6, "security."],
];

/** Prefix string for an EROFS xattr index, or undefined if unknown. */
export function prefixOfIndex(index: number): string | undefined {
  if (index === 0) return "";
  for (const [i, p] of XATTR_PREFIXES) if (i === index) return p;
  if (index === 5) return "system.lustre.";
  return undefined;
}

/** Overlay xattr names composefs writes or escapes. */
export const OVL = {
  prefix: "trusted.overlay.",
  escapePrefix: "trusted.overlay.overlay.",
  metacopy: "trusted.overlay.metacopy",
  redirect: "trusted.overlay.redirect",
  opaque: "trusted.overlay.opaque",
  escWhiteout: "trusted.overlay.overlay.whiteout",
  escWhiteouts: "trusted.overlay.overlay.whiteouts",
  escOpaque: "trusted.overlay.overlay.opaque",
  userWhiteout: "user.overlay.whiteout",
  userWhiteouts: "user.overlay.whiteouts",
  userOpaque: "user.overlay.opaque",
} as const;

/** chunkbits for an external file of `size` bytes: one chunk if possible, at least a block, at most 2^43. */
export function chunkBitsFor(size: number | bigint): number {
  if (typeof size === "bigint")
    return size > 1n << 43n ? CHUNK_BLKBITS_MASK + BLOCK_BITS : chunkBitsFor(Number(size));
  let bits = size <= 1 ? 0 : Math.ceil(Math.log2(size));
  // Math.log2 is exact for powers of two; guard the rounding either way.
  while (bits > 0 && 2 ** (bits - 1) >= size) bits--;
  while (2 ** bits < size) bits++;
  if (bits < BLOCK_BITS) bits = BLOCK_BITS;
  if (bits - BLOCK_BITS > CHUNK_BLKBITS_MASK) bits = CHUNK_BLKBITS_MASK + BLOCK_BITS;
  return bits;
}

/** Number of chunk index entries of an external file of `size` bytes (see {@link chunkBitsFor}). */
export function chunkCount(size: number | bigint): number {
  const bits = chunkBitsFor(size);
  if (typeof size === "number") return Math.ceil(size / 2 ** bits);
  return Number((size + (1n << BigInt(bits)) - 1n) >> BigInt(bits));
}

/** Rounds `n` up to a multiple of `a`. */
export function roundUp(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}
