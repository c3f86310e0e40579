/**
 * Reads a composefs image back into a tree, for `inspect`, diffs and tests. The input is untrusted: every
 * offset and count is bounds-checked, directory loops and hardlinked directories are rejected, and the work
 * is bounded by the image size, so a hostile image yields a {@link ComposefsFormatError} naming the offset
 * and the problem, never a crash, a hang or unbounded memory.
 */

import * as F from "./erofs-format.ts";
import { ComposefsFormatError, isComposefsFormatError, type ParseResult } from "./errors.ts";
import type { DirNode, FileSize, NodeMeta, TreeNode, Xattr } from "./tree.ts";
import { bytesToName, compareBytes, normalizeSize } from "./tree.ts";

/** What {@link readImage} returns. */
export interface ReadImage {
  root: DirNode;
  /** composefs format version from the header (0 or 1). */
  version: number;
  /** Header flag: some inode has POSIX ACL xattrs. */
  hasAcl: boolean;
  /** Inode count from the superblock. */
  inodes: number;
}

const S_IFMT = 0o170000;
const fail = (offset: number, problem: string): never => {
  throw new ComposefsFormatError(offset, problem);
};

/** Parses a composefs image; never throws for bad input (returns `{ ok: false, error }`). */
export function readImage(image: Uint8Array): ParseResult<ReadImage> {
  try {
    return { ok: true, value: parseImage(image) };
  } catch (e) {
    if (isComposefsFormatError(e)) return { ok: false, error: e };
    // Anything else is a reader bug; surface it with context rather than hiding it.
    throw new Error("composefs reader: internal error", { cause: e });
  }
}

interface RawInode {
  off: number;
  mode: number;
  nlink: number;
  size: FileSize;
  uid: number;
  gid: number;
  sec: number;
  nsec: number;
  iu: number;
  layout: number;
  xattrs: Xattr[];
  /** Offset of the inline tail (after inode and xattrs). */
  tailOff: number;
}

function parseImage(img: Uint8Array): ReadImage {
  const len = img.length;
  if (len < F.SUPER_OFFSET + F.SUPER_SIZE)
    fail(0, `image is ${len} bytes, shorter than header and superblock`);
  const dv = new DataView(img.buffer, img.byteOffset, img.byteLength);
  if (dv.getUint32(0, true) !== F.COMPOSEFS_MAGIC) fail(0, "bad composefs magic");
  if (dv.getUint32(4, true) !== F.COMPOSEFS_HEADER_VERSION)
    fail(4, `unsupported composefs header version ${dv.getUint32(4, true)}`);
  const flags = dv.getUint32(8, true);
  const version = dv.getUint32(12, true);
  if (version > 1) fail(12, `unsupported composefs version ${version}`);
  const sb = F.SUPER_OFFSET;
  if (dv.getUint32(sb, true) !== F.EROFS_MAGIC) fail(sb, "bad EROFS superblock magic");
  if (img[sb + 12] !== F.BLOCK_BITS) fail(sb + 12, `unsupported block size bits ${img[sb + 12]}`);
  const incompat = dv.getUint32(sb + 80, true);
  if (incompat !== 0) fail(sb + 80, `unsupported EROFS incompat features 0x${incompat.toString(16)}`);
  const rootNid = dv.getUint16(sb + 14, true);
  const inodes = Number(dv.getBigUint64(sb + 16, true));
  const buildSec = toSafe(dv.getBigInt64(sb + 24, true), sb + 24, "build time");
  const buildNsec = dv.getUint32(sb + 32, true);
  const metaBase = dv.getUint32(sb + 40, true) * F.BLOCK_SIZE;
  const xattrBase = dv.getUint32(sb + 44, true) * F.BLOCK_SIZE;
  if (metaBase >= len) fail(sb + 40, `meta_blkaddr points past the end of the image`);
  if (xattrBase > len) fail(sb + 44, `xattr_blkaddr points past the end of the image`);

  // Work budget: directory bytes scanned, bounded by a multiple of the image size (defeats shared-block bombs).
  let budget = 16 * len + (1 << 20);
  const spend = (n: number, at: number): void => {
    budget -= n;
    if (budget < 0)
      fail(at, "directory data exceeds the work budget for this image size (shared or looping blocks)");
  };

  const decoder = bytesToName;

  const readXattrEntry = (p: number, end: number, what: string): [Xattr, number] => {
    if (p + F.XATTR_ENTRY_HEADER > end) fail(p, `${what} xattr entry header runs past its area`);
    const nameLen = img[p] as number;
    const index = img[p + 1] as number;
    const valueLen = dv.getUint16(p + 2, true);
    const prefix = F.prefixOfIndex(index);
    if (prefix === undefined) fail(p + 1, `unknown xattr name index ${index}`);
    const total = F.XATTR_ENTRY_HEADER + nameLen + valueLen;
    if (p + total > end) fail(p, `${what} xattr entry (${total} bytes) runs past its area`);
    const name = (prefix as string) + decoder(img.subarray(p + 4, p + 4 + nameLen));
    if (name.length === 0) fail(p, "empty xattr name");
    const value = img.slice(p + 4 + nameLen, p + total);
    return [{ name, value }, p + F.roundUp(total, 4)];
  };

  const inodeAt = (nid: number, at: number): RawInode => {
    const off = metaBase + nid * F.SLOT_SIZE;
    if (!Number.isSafeInteger(off) || off + F.COMPACT_INODE_SIZE > len)
      fail(at, `nid ${nid} points past the end of the image`);
    const format = dv.getUint16(off, true);
    const extended = (format & 1) === 1;
    const layout = (format >> 1) & 7;
    if (format >> 4 !== 0) fail(off, `unsupported inode format bits 0x${format.toString(16)}`);
    if (
      layout !== F.LAYOUT_FLAT_PLAIN &&
      layout !== F.LAYOUT_FLAT_INLINE &&
      layout !== F.LAYOUT_CHUNK_BASED
    ) {
      fail(off, `unsupported data layout ${layout}`);
    }
    const isize = extended ? F.EXTENDED_INODE_SIZE : F.COMPACT_INODE_SIZE;
    if (off + isize > len) fail(off, "inode runs past the end of the image");
    const icount = dv.getUint16(off + 2, true);
    const mode = dv.getUint16(off + 4, true);
    const r: RawInode = extended
      ? {
          off,
          mode,
          nlink: dv.getUint32(off + 44, true),
          size: normalizeSize(dv.getBigUint64(off + 8, true)),
          uid: dv.getUint32(off + 24, true),
          gid: dv.getUint32(off + 28, true),
          sec: toSafe(dv.getBigInt64(off + 32, true), off + 32, "mtime"),
          nsec: dv.getUint32(off + 40, true),
          iu: dv.getUint32(off + 16, true),
          layout,
          xattrs: [],
          tailOff: 0,
        }
      : {
          off,
          mode,
          nlink: dv.getUint16(off + 6, true),
          size: dv.getUint32(off + 8, true),
          uid: dv.getUint16(off + 24, true),
          gid: dv.getUint16(off + 26, true),
          sec: buildSec,
          nsec: buildNsec,
          iu: dv.getUint32(off + 16, true),
          layout,
          xattrs: [],
          tailOff: 0,
        };
    const xsize = icount === 0 ? 0 : F.XATTR_IBODY_HEADER + (icount - 1) * 4;
    const xstart = off + isize;
    const xend = xstart + xsize;
    if (xend > len) fail(off + 2, `xattr area (${xsize} bytes) runs past the end of the image`);
    if (xsize > 0) {
      const shared = img[xstart + 4] as number;
      let p = xstart + F.XATTR_IBODY_HEADER;
      if (p + shared * 4 > xend) fail(xstart + 4, `shared xattr count ${shared} exceeds the xattr area`);
      for (let i = 0; i < shared; i++, p += 4) {
        const sOff = xattrBase + dv.getUint32(p, true) * 4;
        if (sOff >= len) fail(p, "shared xattr reference points past the end of the image");
        r.xattrs.push(readXattrEntry(sOff, len, "shared")[0]);
      }
      while (p + F.XATTR_ENTRY_HEADER <= xend) {
        const [x, next] = readXattrEntry(p, xend, "inline");
        r.xattrs.push(x);
        p = next;
      }
    }
    r.tailOff = xend;
    return r;
  };

  /** The size of an inode whose bytes are in the image (directory, symlink, inline file): at most the image. */
  const smallSize = (r: RawInode, what: string): number => {
    if (r.size > len) fail(r.off + 8, `${what} size ${r.size} exceeds the image size`);
    return Number(r.size);
  };

  const dataOf = (r: RawInode, size: number): Uint8Array => {
    // FLAT_PLAIN: all blocks at raw_blkaddr. FLAT_INLINE: full blocks there, the last partial block inline.
    const tailLen = r.layout === F.LAYOUT_FLAT_INLINE ? size % F.BLOCK_SIZE : 0;
    if (r.layout === F.LAYOUT_FLAT_INLINE && size > 0 && tailLen === 0)
      fail(r.off, "inline layout with a block-aligned size");
    const blockLen = size - tailLen;
    const out = new Uint8Array(size);
    if (blockLen > 0) {
      const at = r.iu * F.BLOCK_SIZE;
      if (at + blockLen > len)
        fail(r.off + 16, `data blocks at ${at} (+${blockLen}) run past the end of the image`);
      out.set(img.subarray(at, at + blockLen));
    }
    if (tailLen > 0) {
      if (r.tailOff + tailLen > len)
        fail(r.tailOff, `inline tail of ${tailLen} bytes runs past the end of the image`);
      out.set(img.subarray(r.tailOff, r.tailOff + tailLen), blockLen);
    }
    return out;
  };

  const metaOf = (r: RawInode, xattrs: Xattr[]): NodeMeta => {
    const m: NodeMeta = {
      perm: r.mode & 0o7777,
      uid: r.uid,
      gid: r.gid,
      mtimeSec: r.sec,
      mtimeNsec: r.nsec,
      xattrs: xattrs.sort((a, b) => compareBytes(a.name, b.name)),
    };
    // The image's link count, as composefs-info dump shows it (directories' is derived).
    if ((r.mode & S_IFMT) !== 0o040000) m.nlink = r.nlink;
    return m;
  };

  const seen = new Map<number, TreeNode>();
  const visitedDirs = new Set<number>();
  const rootRaw = inodeAt(rootNid, sb + 14);
  if ((rootRaw.mode & S_IFMT) !== 0o040000) fail(rootRaw.off + 4, "root inode is not a directory");
  const rootDecoded = decodeOverlayXattrs(rootRaw.xattrs, "dir");
  const root: DirNode = { ...metaOf(rootRaw, rootDecoded.xattrs), type: "dir", children: new Map() };
  const queue: [number, RawInode, DirNode][] = [[rootNid, rootRaw, root]];
  visitedDirs.add(rootNid);
  seen.set(rootNid, root);
  let inodeCount = 1;

  for (let qi = 0; qi < queue.length; qi++) {
    const [nid, raw, dir] = queue[qi] as [number, RawInode, DirNode];
    if (raw.layout === F.LAYOUT_CHUNK_BASED)
      fail(raw.off, `directory nid ${nid} uses the chunk-based layout`);
    const dirSize = smallSize(raw, "directory");
    spend(dirSize, raw.off);
    const data = dataOf(raw, dirSize);
    for (let b = 0; b < data.length; b += F.BLOCK_SIZE) {
      const blockLen = Math.min(F.BLOCK_SIZE, data.length - b);
      const blockAt =
        raw.layout === F.LAYOUT_FLAT_INLINE && b + blockLen === data.length && blockLen < F.BLOCK_SIZE
          ? raw.tailOff
          : raw.iu * F.BLOCK_SIZE + b;
      const ents = parseDirBlock(data.subarray(b, b + blockLen), blockAt);
      for (const [name, childNid, at] of ents) {
        if (name === "." || name === "..") continue;
        if (dir.children.has(name)) fail(at, `duplicate name in directory nid ${nid}`);
        let child = seen.get(childNid);
        if (child) {
          if (child.type === "dir") fail(at, `directory loop or hardlinked directory (nid ${childNid})`);
          dir.children.set(name, child);
          continue;
        }
        const r = inodeAt(childNid, at);
        if (++inodeCount > len / F.SLOT_SIZE) fail(at, "more inodes than the image can hold");
        const fmt = r.mode & S_IFMT;
        if (fmt === 0o020000 && r.iu === 0) continue; // a real 0:0 whiteout: the root's 00..ff object hiders
        const made = makeNode(r, childNid);
        if (!made) continue;
        child = made;
        seen.set(childNid, child);
        dir.children.set(name, child);
        if (child.type === "dir") {
          if (visitedDirs.has(childNid)) fail(at, `directory loop (nid ${childNid})`);
          visitedDirs.add(childNid);
          queue.push([childNid, r, child]);
        }
      }
    }
  }
  return { root, version, hasAcl: (flags & F.COMPOSEFS_FLAG_HAS_ACL) !== 0, inodes };

  function makeNode(r: RawInode, nid: number): TreeNode | undefined {
    const fmt = r.mode & S_IFMT;
    switch (fmt) {
      case 0o040000: {
        const d = decodeOverlayXattrs(r.xattrs, "dir");
        return { ...metaOf(r, d.xattrs), type: "dir", children: new Map() };
      }
      case 0o100000: {
        const d = decodeOverlayXattrs(r.xattrs, "file");
        if (d.whiteout) return { ...metaOf(r, d.xattrs), type: "whiteout" };
        const meta = metaOf(r, d.xattrs);
        if (r.layout === F.LAYOUT_CHUNK_BASED) {
          checkChunks(r, nid);
          return {
            ...meta,
            type: "file",
            size: r.size,
            ...(d.digest ? { digest: d.digest } : {}),
            ...(d.redirect !== undefined ? { redirect: d.redirect } : {}),
          };
        }
        if (r.size > F.INLINE_CONTENT_MAX)
          fail(r.off + 8, `inline file of ${r.size} bytes exceeds ${F.INLINE_CONTENT_MAX}`);
        const size = Number(r.size);
        if (size === 0) return { ...meta, type: "file", size: 0 };
        return { ...meta, type: "file", size, content: dataOf(r, size) };
      }
      case 0o120000: {
        if (r.size === 0 || r.size > 4095) fail(r.off + 8, `symlink length ${r.size} not in 1..4095`);
        if (r.layout === F.LAYOUT_CHUNK_BASED) fail(r.off, "chunk-based symlink");
        const t = dataOf(r, Number(r.size));
        if (t.includes(0)) fail(r.off, "symlink target contains NUL");
        return {
          ...metaOf(r, decodeOverlayXattrs(r.xattrs, "other").xattrs),
          type: "symlink",
          target: decoder(t),
        };
      }
      case 0o020000:
      case 0o060000:
        return {
          ...metaOf(r, decodeOverlayXattrs(r.xattrs, "other").xattrs),
          type: fmt === 0o020000 ? "chardev" : "blockdev",
          rdev: r.iu,
        };
      case 0o010000:
      case 0o140000:
        return {
          ...metaOf(r, decodeOverlayXattrs(r.xattrs, "other").xattrs),
          type: fmt === 0o010000 ? "fifo" : "socket",
        };
      default:
        return fail(r.off + 4, `nid ${nid} has unknown file type in mode 0o${r.mode.toString(8)}`);
    }
  }

  function checkChunks(r: RawInode, nid: number): void {
    const fmt = r.iu & 0xffff;
    if ((fmt & ~F.CHUNK_BLKBITS_MASK) !== 0)
      fail(r.off + 16, `nid ${nid}: unsupported chunk format 0x${fmt.toString(16)}`);
    const bits = BigInt(F.BLOCK_BITS + (fmt & F.CHUNK_BLKBITS_MASK));
    const count = Number((BigInt(r.size) + (1n << bits) - 1n) >> bits);
    // mkcomposefs 1.0.8 puts an index of 1017..1024 chunks that does not fit its block in a data block of
    // null chunks, where the kernel does not look; the bytes after such an inode are not an index.
    if (count > 1016 && count <= 1024) return;
    if (r.tailOff + count * 4 > len)
      fail(r.tailOff, `nid ${nid}: ${count} chunk indexes run past the end of the image`);
    for (let i = 0; i < count; i++) {
      if (dv.getUint32(r.tailOff + i * 4, true) !== F.NULL_CHUNK)
        fail(r.tailOff + i * 4, `nid ${nid}: chunk ${i} maps data; composefs files must be holes`);
    }
  }

  function parseDirBlock(block: Uint8Array, at: number): [string, number, number][] {
    if (block.length < F.DIRENT_SIZE) fail(at, "directory block shorter than one dirent");
    const bdv = new DataView(block.buffer, block.byteOffset, block.byteLength);
    const first = bdv.getUint16(8, true);
    if (first < F.DIRENT_SIZE || first % F.DIRENT_SIZE !== 0 || first > block.length)
      fail(at + 8, `bad first name offset ${first}`);
    const n = first / F.DIRENT_SIZE;
    const out: [string, number, number][] = [];
    for (let i = 0; i < n; i++) {
      const d = i * F.DIRENT_SIZE;
      const nid = Number(bdv.getBigUint64(d, true));
      const nameoff = bdv.getUint16(d + 8, true);
      let end: number;
      if (i + 1 < n) end = bdv.getUint16(d + 8 + F.DIRENT_SIZE, true);
      else {
        end = block.indexOf(0, nameoff);
        if (end < 0) end = block.length;
      }
      if (nameoff < first || end <= nameoff || end > block.length)
        fail(at + d + 8, `bad dirent name offsets ${nameoff}..${end}`);
      const nameBytes = block.subarray(nameoff, end);
      if (nameBytes.includes(0x2f) || nameBytes.includes(0))
        fail(at + nameoff, "dirent name contains '/' or NUL");
      if (nameBytes.length > 255) fail(at + nameoff, "dirent name longer than 255 bytes");
      out.push([decoder(nameBytes), nid, at + d]);
    }
    return out;
  }
}

function toSafe(v: bigint, at: number, what: string): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER))
    throw new ComposefsFormatError(at, `${what} ${v} is too large`);
  return Number(v);
}

/** Logical view of an inode's raw image xattrs: overlay bookkeeping removed, escaped names restored. */
export interface DecodedXattrs {
  xattrs: Xattr[];
  digest?: Uint8Array;
  redirect?: string;
  whiteout: boolean;
}

/**
 * Undoes what the writer adds: metacopy (→ digest), redirect (→ object path), whiteout markers, the
 * opaque markers of directories holding whiteouts and of the root, and the `trusted.overlay.overlay.`
 * escaping. Shared by the reader and by tests that compare `fsck.erofs --extract` output.
 */
export function decodeOverlayXattrs(raw: readonly Xattr[], kind: "dir" | "file" | "other"): DecodedXattrs {
  const out: DecodedXattrs = { xattrs: [], whiteout: false };
  const names = new Set(raw.map((x) => x.name));
  const hasWhiteouts = kind === "dir" && names.has(F.OVL.escWhiteouts);
  const isWhiteout = kind === "file" && names.has(F.OVL.escWhiteout);
  for (const x of raw) {
    const v = Buffer.from(x.value.buffer, x.value.byteOffset, x.value.byteLength).toString("latin1");
    if (x.name === F.OVL.metacopy && kind === "file") {
      if (x.value.length === 36) out.digest = x.value.slice(4, 36);
      continue;
    }
    if (x.name === F.OVL.redirect && kind === "file") {
      out.redirect = v.startsWith("/") ? v.slice(1) : v;
      continue;
    }
    if (isWhiteout && (x.name === F.OVL.escWhiteout || x.name === F.OVL.userWhiteout)) continue;
    if (hasWhiteouts && (x.name === F.OVL.escWhiteouts || x.name === F.OVL.userWhiteouts)) continue;
    if (hasWhiteouts && v === "x" && (x.name === F.OVL.escOpaque || x.name === F.OVL.userOpaque)) continue;
    if (x.name.startsWith(F.OVL.escapePrefix)) {
      out.xattrs.push({ name: F.OVL.prefix + x.name.slice(F.OVL.escapePrefix.length), value: x.value });
      continue;
    }
    if (x.name.startsWith(F.OVL.prefix)) continue; // overlay's own (e.g. the root's opaque=y)
    out.xattrs.push(x);
  }
  out.whiteout = isWhiteout;
  return out;
}
