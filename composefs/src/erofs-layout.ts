/**
 * Layout pass of the composefs writer: inode order (erofs-order.ts), per-inode xattrs in `strcmp` order,
 * the shared-xattr table, inode sizes and placement (libcomposefs' rules; see erofs-writer.ts for credits).
 * Produces a {@link Layout} that erofs-serialize.ts turns into bytes.
 */
import * as F from "./erofs-format.ts";
import { orderInodes } from "./erofs-order.ts";
import { prefixIndex, WriterError } from "./erofs-validate.ts";
import { type WNode, type WXattr, XATTR_LIMIT } from "./erofs-wnode.ts";
import type { WriteImageOptions } from "./erofs-writer.ts";
import type { DirNode, TreeNode } from "./tree.ts";
import { xxh32 } from "./xxh32.ts";

export type { WNode, WXattr } from "./erofs-wnode.ts";

function hasWhiteout(root: DirNode): boolean {
  const seen = new Set<TreeNode>();
  const dirs: DirNode[] = [root];
  for (let d = dirs.pop(); d; d = dirs.pop()) {
    for (const c of d.children.values()) {
      if (c.type === "whiteout") return true;
      if (c.type === "dir" && !seen.has(c)) {
        seen.add(c);
        dirs.push(c);
      }
    }
  }
  return false;
}

/** Everything serialize() needs: inodes in order and the computed offsets. */
export interface Layout {
  nodes: WNode[];
  version: number;
  hasAcl: boolean;
  minSec: number;
  minNsec: number;
  shared: WXattr[];
  sharedSize: number;
  inodesEnd: number;
  dataStart: number;
  nDataBlocks: number;
}

/** Computes the image layout of `root`. Throws a WriterError naming the path for invalid trees. */
export function layoutTree(root: DirNode, opts: WriteImageOptions): Layout {
  const version = opts.version ?? (hasWhiteout(root) ? 1 : 0);
  const nodes = orderInodes(root, version);
  const rootW = nodes[0] as WNode;

  // Per-node xattrs in canonical (strcmp) order; min mtime; ACL flag; use counts of (name, value) pairs.
  let minSec = rootW.sec;
  let minNsec = rootW.nsec;
  let hasAcl = false;
  const byName = new Map<
    string,
    { index: number; suffix: string; filterBit: number; values: Map<string, WXattr> }
  >();
  const all: WXattr[] = [];
  for (let i = 0; i < nodes.length; i++) {
    const w = nodes[i] as WNode;
    w.ino = i;
    if (w.sec < minSec || (w.sec === minSec && w.nsec < minNsec)) {
      minSec = w.sec;
      minNsec = w.nsec;
    }
    const n = w.xn.length;
    if (n === 0) continue;
    if (F.XATTR_IBODY_HEADER + w.xattrBytes > XATTR_LIMIT)
      throw new WriterError(
        w.path(),
        `xattrs take ${F.XATTR_IBODY_HEADER + w.xattrBytes} bytes, more than the ${XATTR_LIMIT} mkcomposefs allows per inode`,
      );
    let order: number[] | undefined;
    if (n > 1) {
      const xn = w.xn;
      order = Array.from({ length: n }, (_, k) => k);
      order.sort((a, b) => ((xn[a] as string) < (xn[b] as string) ? -1 : 1));
    }
    for (let k = 0; k < n; k++) {
      const j = order ? (order[k] as number) : k;
      const name = w.xn[j] as string;
      const value = w.xv[j] as string;
      let nm = byName.get(name);
      if (!nm) {
        const [index, suffix] = prefixIndex(name);
        const filterBit = xxh32(Buffer.from(suffix, "latin1"), F.XATTR_FILTER_SEED + index) & 31;
        nm = { index, suffix, filterBit, values: new Map() };
        byName.set(name, nm);
        if (name === "system.posix_acl_access" || name === "system.posix_acl_default") hasAcl = true;
      }
      let x = nm.values.get(value);
      if (!x) {
        const entrySize = F.roundUp(F.XATTR_ENTRY_HEADER + nm.suffix.length + value.length, 4);
        x = {
          name,
          value,
          index: nm.index,
          suffix: nm.suffix,
          entrySize,
          sharedOffset: -1,
          filterBit: nm.filterBit,
          count: 0,
        };
        nm.values.set(value, x);
        all.push(x);
      }
      x.count++;
      if (k === 0) w.xattrs = [];
      w.xattrs.push(x);
    }
  }

  // Shared xattrs: multi-use (name, value) pairs, sorted descending as libcomposefs does.
  const shared = all.filter((x) => x.count > 1);
  shared.sort((a, b) => {
    if (a.name !== b.name) return a.name < b.name ? 1 : -1;
    if (a.value.length !== b.value.length) return b.value.length - a.value.length;
    return a.value < b.value ? 1 : a.value > b.value ? -1 : 0;
  });
  let sharedSize = 0;
  for (const x of shared) {
    x.sharedOffset = sharedSize;
    sharedSize += x.entrySize;
  }

  // Inode placement.
  let pos = F.SUPER_OFFSET + F.SUPER_SIZE;
  let nDataBlocks = 0;
  for (const w of nodes) {
    computeSize(w);
    let nShared = 0;
    let unshared = 0;
    for (const x of w.xattrs) {
      if (x.sharedOffset >= 0 && nShared < F.MAX_SHARED_XATTRS_PER_INODE) nShared++;
      else unshared += x.entrySize;
    }
    w.nShared = nShared;
    w.xattrSize =
      nShared === 0 && unshared === 0 ? 0 : F.roundUp(F.XATTR_IBODY_HEADER + nShared * 4 + unshared, 4);
    const isize = w.compact ? F.COMPACT_INODE_SIZE : F.EXTENDED_INODE_SIZE;
    const p0 = pos;
    pos = F.roundUp(pos, F.SLOT_SIZE);
    w.ipad = pos - p0;
    const extra = tailPadding(w, pos, isize);
    w.ipad += extra;
    pos += extra;
    nDataBlocks += w.nBlocks;
    w.nid = pos / F.SLOT_SIZE;
    pos += isize + w.xattrSize + w.tail;
  }
  const inodesEnd = F.roundUp(pos, F.SLOT_SIZE);
  const dataStart = F.roundUp(inodesEnd + sharedSize, F.BLOCK_SIZE);
  return { nodes, version, hasAcl, minSec, minNsec, shared, sharedSize, inodesEnd, dataStart, nDataBlocks };

  function computeSize(w: WNode): void {
    if (w.type === "dir") {
      let blocks = 0;
      let fill = 0;
      for (const name of w.names) {
        const len = F.DIRENT_SIZE + name.length;
        if (fill + len > F.BLOCK_SIZE) {
          blocks++;
          fill = 0;
        }
        fill += len;
      }
      if (fill > F.BLOCK_SIZE / 2) {
        blocks++;
        fill = 0;
      }
      w.nBlocks = blocks;
      w.tail = fill;
      w.size = blocks * F.BLOCK_SIZE + fill;
    } else if (w.type === "symlink") {
      w.tail = Number(w.size);
    } else if (w.type === "file" && w.size > 0) {
      if (w.inline) {
        const size = w.inline.length;
        w.nBlocks = Math.floor(size / F.BLOCK_SIZE);
        w.tail = size % F.BLOCK_SIZE;
        if (w.tail > F.BLOCK_SIZE / 2) {
          w.nBlocks++;
          w.tail = 0;
        }
      } else w.tail = F.chunkCount(w.size) * 4;
    }
    // Compactness depends on min mtime, known only after the BFS; decide it here with the final value.
    w.compact = fitsCompact(w, { minSec, minNsec });
  }

  function tailPadding(w: WNode, p: number, isize: number): number {
    const nonTail = isize + w.xattrSize;
    if (w.type === "symlink") {
      // The kernel's fast-symlink path wants inode, xattrs and target in one block: pad the inode to a
      // block start when they would straddle one. When they cannot fit a block at all (>= 4096 bytes),
      // the target moves to a data block (FLAT_PLAIN), and the padding decision still uses the original
      // total, as mkcomposefs 1.0.8 does.
      const total = nonTail + Number(w.size);
      if (total >= F.BLOCK_SIZE) {
        w.nBlocks = 1;
        w.tail = 0;
      }
      if (Math.floor(p / F.BLOCK_SIZE) !== Math.floor((p + total - 1) / F.BLOCK_SIZE)) {
        return F.roundUp(p, F.BLOCK_SIZE) - p;
      }
      return 0;
    }
    let remainder = F.BLOCK_SIZE - ((p + nonTail) % F.BLOCK_SIZE);
    if (remainder < w.tail) {
      const extra = F.roundUp(remainder, F.SLOT_SIZE);
      remainder = F.BLOCK_SIZE - ((p + nonTail + extra) % F.BLOCK_SIZE);
      if (w.tail <= remainder) return extra;
      // A chunk index longer than a block (over 1024 chunks: files over 2^53 bytes, which mkcomposefs
      // refuses) simply continues after the inode: the kernel reads each 4-byte entry where it lies.
      if (w.chunked && w.tail > F.BLOCK_SIZE) return 0;
      // Otherwise the tail goes to a block of its own and the inode starts a block, as mkcomposefs 1.0.8
      // does (for a chunk index of 1017..1024 entries too: it then writes a block of 1024 null chunks).
      w.nBlocks++;
      w.tail = 0;
      return F.roundUp(p, F.BLOCK_SIZE) - p;
    }
    return 0;
  }
}

function fitsCompact(w: WNode, m: { minSec: number; minNsec: number }): boolean {
  if (w.sec !== m.minSec || w.nsec !== m.minNsec) return false;
  if (w.nlink > 0xffff || w.uid > 0xffff || w.gid > 0xffff) return false;
  const size = w.type === "dir" ? w.nBlocks * F.BLOCK_SIZE + w.tail : w.size;
  return size <= 0xffffffff;
}
