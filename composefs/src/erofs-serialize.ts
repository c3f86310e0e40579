/**
 * Serialization pass of the composefs writer: writes header, superblock, inodes with xattrs and inline
 * tails, the shared xattr table and the data blocks into one buffer (aligned fields through 16- and 32-bit
 * views of it: this machine and the format are little-endian; a DataView for the superblock).
 */
import * as F from "./erofs-format.ts";
import type { Layout, WNode, WXattr } from "./erofs-layout.ts";

/** Writes the image bytes for a computed layout. */
export function serialize(l: Layout): Uint8Array {
  const total = l.dataStart + l.nDataBlocks * F.BLOCK_SIZE;
  const ab = new ArrayBuffer(total);
  const buf = Buffer.from(ab);
  const dv = new DataView(ab);
  const u16 = new Uint16Array(ab);
  const u32 = new Uint32Array(ab);

  dv.setUint32(0, F.COMPOSEFS_MAGIC, true);
  dv.setUint32(4, F.COMPOSEFS_HEADER_VERSION, true);
  dv.setUint32(8, l.hasAcl ? F.COMPOSEFS_FLAG_HAS_ACL : 0, true);
  dv.setUint32(12, l.version, true);

  const sb = F.SUPER_OFFSET;
  dv.setUint32(sb, F.EROFS_MAGIC, true);
  dv.setUint32(sb + 8, F.FEATURE_COMPAT_MTIME | F.FEATURE_COMPAT_XATTR_FILTER, true);
  buf[sb + 12] = F.BLOCK_BITS;
  dv.setUint16(sb + 14, (l.nodes[0] as WNode).nid, true);
  dv.setBigUint64(sb + 16, BigInt(l.nodes.length), true);
  dv.setBigUint64(sb + 24, BigInt(l.minSec), true);
  dv.setUint32(sb + 32, l.minNsec, true);
  dv.setUint32(sb + 36, l.dataStart / F.BLOCK_SIZE + l.nDataBlocks, true);
  dv.setUint32(sb + 40, 0, true);
  dv.setUint32(sb + 44, Math.floor(l.inodesEnd / F.BLOCK_SIZE), true);

  let dataEnd = l.dataStart;
  const blkaddr = new Map<WNode, number>();
  let pos = F.SUPER_OFFSET + F.SUPER_SIZE;
  for (const w of l.nodes) {
    pos += w.ipad;
    let layout = w.tail > 0 ? F.LAYOUT_FLAT_INLINE : F.LAYOUT_FLAT_PLAIN;
    let iu = 0;
    if (w.chunked) {
      layout = F.LAYOUT_CHUNK_BASED;
      iu = F.chunkBitsFor(w.size) - F.BLOCK_BITS;
      if (w.nBlocks > 0) {
        // mkcomposefs' chunk index in a block of its own: the block address set, then its low half
        // overwritten by the chunk format (one union), the block filled with 1024 null chunks.
        iu = ((dataEnd / F.BLOCK_SIZE) & 0xffff0000) | iu;
        blkaddr.set(w, dataEnd);
        dataEnd += w.nBlocks * F.BLOCK_SIZE;
      }
    } else if (w.type === "chardev" || w.type === "blockdev") {
      iu = w.rdev;
    } else if (w.nBlocks > 0) {
      iu = dataEnd / F.BLOCK_SIZE;
      blkaddr.set(w, dataEnd);
      dataEnd += w.nBlocks * F.BLOCK_SIZE;
    }
    const icount = w.xattrSize === 0 ? 0 : (w.xattrSize - F.XATTR_IBODY_HEADER) / 4 + 1;
    const format = (layout << 1) | (w.compact ? 0 : 1);
    // Directories report their dirent bytes (full blocks + tail); everything else its own size.
    const size = w.type === "dir" ? w.nBlocks * F.BLOCK_SIZE + w.tail : w.size;
    const h = pos >> 1;
    const g = pos >> 2;
    u16[h] = format;
    u16[h + 1] = icount;
    u16[h + 2] = w.mode;
    if (w.compact) {
      u16[h + 3] = w.nlink;
      u32[g + 2] = Number(size);
      u32[g + 4] = iu;
      u32[g + 5] = w.ino;
      u16[h + 12] = w.uid;
      u16[h + 13] = w.gid;
      pos += F.COMPACT_INODE_SIZE;
    } else {
      if (typeof size === "bigint") dv.setBigUint64(pos + 8, size, true);
      else setU64(u32, g + 2, size);
      u32[g + 4] = iu;
      u32[g + 5] = w.ino;
      u32[g + 6] = w.uid;
      u32[g + 7] = w.gid;
      setU64(u32, g + 8, w.sec);
      u32[g + 10] = w.nsec;
      u32[g + 11] = w.nlink;
      pos += F.EXTENDED_INODE_SIZE;
    }
    if (w.xattrSize > 0) {
      let filter = 0;
      for (const x of w.xattrs) filter |= 1 << x.filterBit;
      u32[pos >> 2] = ~filter >>> 0;
      buf[pos + 4] = w.nShared;
      let p = pos + F.XATTR_IBODY_HEADER;
      let nShared = 0;
      for (const x of w.xattrs) {
        if (x.sharedOffset >= 0 && nShared < w.nShared) {
          u32[p >> 2] = ((l.inodesEnd % F.BLOCK_SIZE) + x.sharedOffset) / 4;
          p += 4;
          nShared++;
        }
      }
      nShared = 0;
      for (const x of w.xattrs) {
        if (x.sharedOffset >= 0 && nShared < w.nShared) {
          nShared++;
          continue;
        }
        p = writeXattr(buf, u16, p, x);
      }
      pos += w.xattrSize;
    }
    if (w.tail > 0) {
      if (w.type === "dir")
        writeDirents(buf, u16, u32, pos, w, w.names.length - tailEntryCount(w), w.names.length);
      else if (w.chunked) buf.fill(0xff, pos, pos + w.tail);
      else if (w.inline)
        buf.set(w.nBlocks === 0 ? w.inline : w.inline.subarray(w.inline.length - w.tail), pos);
      pos += w.tail;
    }
  }
  if (F.roundUp(pos, F.SLOT_SIZE) !== l.inodesEnd)
    throw new Error("composefs writer: inode table size mismatch");
  let p = l.inodesEnd;
  for (const x of l.shared) p = writeXattr(buf, u16, p, x);

  for (const w of l.nodes) {
    const at = blkaddr.get(w);
    if (at === undefined) continue;
    if (w.type === "dir") {
      let start = 0;
      let fill = 0;
      let block = 0;
      const fullBlocks = w.names.length - tailEntryCount(w);
      for (let i = 0; i < fullBlocks; i++) {
        const len = F.DIRENT_SIZE + (w.names[i] as string).length;
        if (fill + len > F.BLOCK_SIZE) {
          writeDirents(buf, u16, u32, at + block * F.BLOCK_SIZE, w, start, i);
          block++;
          start = i;
          fill = 0;
        }
        fill += len;
      }
      if (start < fullBlocks) writeDirents(buf, u16, u32, at + block * F.BLOCK_SIZE, w, start, fullBlocks);
    } else if (w.chunked) buf.fill(0xff, at, at + F.BLOCK_SIZE);
    else if (w.inline) {
      buf.set(w.inline.subarray(0, Math.min(w.inline.length, w.nBlocks * F.BLOCK_SIZE)), at);
    }
  }
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

/** Number of trailing dirents stored inline (0 if the directory has no inline tail). */
function tailEntryCount(w: WNode): number {
  if (w.tail === 0) return 0;
  let fill = 0;
  let first = 0;
  for (let i = 0; i < w.names.length; i++) {
    const len = F.DIRENT_SIZE + (w.names[i] as string).length;
    if (fill + len > F.BLOCK_SIZE) {
      fill = 0;
      first = i;
    }
    fill += len;
  }
  return w.names.length - first;
}

function writeXattr(buf: Buffer, u16: Uint16Array, p: number, x: WXattr): number {
  buf[p] = x.suffix.length;
  buf[p + 1] = x.index;
  u16[(p + 2) >> 1] = x.value.length;
  buf.write(x.suffix, p + 4, "latin1");
  buf.write(x.value, p + 4 + x.suffix.length, "latin1");
  return p + x.entrySize;
}

const FILE_TYPE: Record<string, number> = {
  file: F.FT.file,
  dir: F.FT.dir,
  chardev: F.FT.chardev,
  blockdev: F.FT.blockdev,
  fifo: F.FT.fifo,
  socket: F.FT.socket,
  symlink: F.FT.symlink,
  whiteout: F.FT.chardev,
};

function writeDirents(
  buf: Buffer,
  u16: Uint16Array,
  u32: Uint32Array,
  at: number,
  w: WNode,
  from: number,
  to: number,
): void {
  let nameoff = (to - from) * F.DIRENT_SIZE;
  for (let i = from; i < to; i++) {
    const name = w.names[i] as string;
    const target = w.targets[i] as WNode;
    const d = at + (i - from) * F.DIRENT_SIZE;
    setU64(u32, d >> 2, target.nid); // dirents are 12 bytes from a block start: 4-aligned
    u16[(d + 8) >> 1] = nameoff;
    buf[d + 10] = FILE_TYPE[target.type] ?? 0;
    buf.write(name, at + nameoff, "latin1");
    nameoff += name.length;
  }
}

/** Writes a little-endian u64 (two's complement for negative mtimes) from a safe integer at u32 index `i`. */
function setU64(u32: Uint32Array, i: number, v: number): void {
  u32[i] = v >>> 0;
  u32[i + 1] = Math.floor(v / 0x100000000);
}
