/**
 * Layout pass of the composefs writer: BFS inode order, overlay xattrs, shared-xattr table, inode sizes and
 * placement (libcomposefs' rules; see erofs-writer.ts for credits). Produces a {@link Layout} that
 * erofs-serialize.ts turns into bytes.
 */
import * as F from "./erofs-format.ts";
import { prefixIndex, validateName, validateNode, WriterError } from "./erofs-validate.ts";
import type { WriteImageOptions } from "./erofs-writer.ts";
import type { DirNode, TreeNode } from "./tree.ts";
import { compareBytes, modeOf, TYPE_BITS } from "./tree.ts";
import { xxh32 } from "./xxh32.ts";

/** One (name, value) xattr of the image, shared between inodes that carry the same pair. */
export interface WXattr {
  name: string;
  /** Value as a byte string (one char per byte): cheap to key, compare and write. */
  value: string;
  key: string;
  index: number;
  suffix: string;
  entrySize: number;
  sharedOffset: number;
  /** Bit of the inode's xattr name filter (xxh32 of the suffix, seeded by the prefix index). */
  filterBit: number;
}

/** One inode of the image being laid out. */
export interface WNode {
  src: TreeNode | undefined;
  type: TreeNode["type"];
  mode: number;
  uid: number;
  gid: number;
  sec: number;
  nsec: number;
  nlink: number;
  size: number;
  rdev: number;
  xattrs: WXattr[];
  entries: { name: string; target: WNode }[];
  inline: Uint8Array | undefined;
  chunked: boolean;
  /** Source directory (directories only), parent WNode, xattrs by name, and path for error messages. */
  dir: DirNode | undefined;
  parent: WNode | undefined;
  xm: Map<string, string>;
  /** Name under the parent (first name met); the path is rebuilt from it only for error messages. */
  name: string;
  /** Already given its place in the inode order (at its canonical name). */
  placed: boolean;
  ino: number;
  nid: number;
  nBlocks: number;
  tail: number;
  compact: boolean;
  ipad: number;
  xattrSize: number;
  nShared: number;
}

const latin1 = (s: string): Uint8Array => Buffer.from(s, "latin1");

/**
 * Byte string of a value. Copying into a Buffer avoids touching `.buffer` of small typed arrays (which makes
 * the engine materialize them) and yields a flat string that hashes fast as a map key.
 */
function valueString(v: Uint8Array): string {
  return v.length === 0 ? "" : Buffer.from(v).toString("latin1");
}

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

/** Path of a node for error messages (rebuilt from names; never computed on the hot path). */
function pathOf(w: WNode): string {
  const parts: string[] = [];
  for (let x: WNode | undefined = w; x?.parent && x.parent !== x; x = x.parent) parts.push(x.name);
  return `/${parts.reverse().join("/")}`;
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
  const byNode = new Map<TreeNode, WNode>();
  const sortedNames = new Map<DirNode, string[]>();
  const firstParent = firstDfsParents(root, sortedNames);
  const nodes: WNode[] = [];

  const make = (src: TreeNode | undefined, name: string, parent: WNode | undefined, proto?: WNode): WNode => {
    const n: WNode = {
      src,
      type: src?.type ?? "whiteout",
      mode: src ? modeOf(src) : TYPE_BITS.chardev | 0o644,
      uid: src?.uid ?? proto?.uid ?? 0,
      gid: src?.gid ?? proto?.gid ?? 0,
      sec: src?.mtimeSec ?? proto?.sec ?? 0,
      nsec: src?.mtimeNsec ?? proto?.nsec ?? 0,
      nlink: 0,
      size: 0,
      rdev: 0,
      xattrs: [],
      entries: [],
      inline: undefined,
      chunked: false,
      ino: 0,
      nid: 0,
      nBlocks: 0,
      tail: 0,
      compact: true,
      ipad: 0,
      xattrSize: 0,
      nShared: 0,
      dir: undefined,
      parent,
      xm: new Map(),
      name,
      placed: false,
    };
    if (src) validateNode(src, () => pathOf(n));
    const xm = n.xm;
    for (const x of src?.xattrs ?? []) {
      const name = x.name.startsWith(F.OVL.prefix)
        ? F.OVL.escapePrefix + x.name.slice(F.OVL.prefix.length)
        : x.name;
      xm.set(name, valueString(x.value));
    }
    if (src?.type === "file") {
      n.size = src.size;
      if (src.content && src.size > 0) n.inline = src.content;
      else if (src.size > 0) {
        n.chunked = true;
        xm.set(F.OVL.metacopy, src.digest ? metacopyValue(src.digest) : "");
        if (src.redirect) xm.set(F.OVL.redirect, `/${src.redirect}`);
      }
    } else if (src?.type === "symlink") {
      n.inline = latin1(src.target);
      n.size = src.target.length;
    } else if (src?.type === "chardev" || src?.type === "blockdev") {
      n.rdev = src.rdev;
    } else if (src?.type === "whiteout") {
      // Escaped whiteout: an empty regular file the overlay stack interprets (xwhiteouts).
      n.mode = TYPE_BITS.file | (src.perm & 0o7777);
      n.type = "file";
      xm.set(F.OVL.escWhiteout, "");
      xm.set(F.OVL.userWhiteout, "");
    }
    return n;
  };

  // BFS over the tree: the queue order is the inode order; children sorted by byte-wise name.
  const rootW = make(root, "", undefined);
  byNode.set(root, rootW);
  nodes.push(rootW);
  rootW.dir = root;
  rootW.parent = rootW;
  for (let qi = 0; qi < nodes.length; qi++) {
    const w = nodes[qi] as WNode;
    const dir = w.dir;
    if (!dir) continue;
    // Already sorted by the depth-first pre-pass; "." and ".." (and the root whiteouts) are merged in by a
    // sort that is linear on nearly sorted input.
    const names = [...(sortedNames.get(dir) ?? [...dir.children.keys()])];
    if (w === rootW) {
      for (let i = 0; i < 256; i++) {
        const hx = i.toString(16).padStart(2, "0");
        if (!dir.children.has(hx)) names.push(hx);
      }
    }
    names.push(".", "..");
    names.sort(compareBytes);
    const xm = w.xm;
    let subdirs = 0;
    for (const name of names) {
      if (name === ".") {
        w.entries.push({ name, target: w });
        continue;
      }
      if (name === "..") {
        w.entries.push({ name, target: w.parent as WNode });
        continue;
      }
      const child = dir.children.get(name);
      const path = (): string => `${pathOf(w)}/${name}`;
      let cw: WNode;
      if (!child) {
        // One of the 256 root whiteouts hiding the object directories on kernels without data-only layers.
        cw = make(undefined, name, w, rootW);
        const selinux = xm.get("security.selinux");
        if (selinux !== undefined) cw.xm.set("security.selinux", selinux);
        nodes.push(cw);
      } else {
        validateName(name, path);
        const existing = byNode.get(child);
        if (child.type === "dir") {
          if (existing)
            throw new WriterError(
              path(),
              "directory reachable under two names (hardlinked directory or cycle)",
            );
          cw = make(child, name, w);
          byNode.set(child, cw);
          nodes.push(cw);
          cw.dir = child;
          cw.parent = w;
        } else {
          // A hardlinked node takes its inode slot where its first name in depth-first sorted order
          // sits (that is the "original" when mkcomposefs parses a dump); other names only refer to it.
          const canonicalDir = firstParent.get(child);
          cw = existing ?? make(child, name, w);
          if (!existing) byNode.set(child, cw);
          if ((canonicalDir === undefined || canonicalDir === dir) && !cw.placed) {
            cw.placed = true;
            nodes.push(cw);
            if (child.type === "whiteout") {
              xm.set(F.OVL.escWhiteouts, "");
              xm.set(F.OVL.userWhiteouts, "");
              if (version >= 1) {
                xm.set(F.OVL.escOpaque, "x");
                xm.set(F.OVL.userOpaque, "x");
              }
            }
          }
        }
        if (child.type === "dir") subdirs++;
      }
      cw.nlink++;
      w.entries.push({ name, target: cw });
    }
    w.nlink = 2 + subdirs;
  }
  for (const w of byNode.values()) {
    if (w.type !== "dir" && !w.placed)
      throw new WriterError(pathOf(w), "internal error: hardlinked node never placed");
  }
  rootW.xm.set(F.OVL.opaque, "y");

  // Per-node xattrs in canonical (strcmp) order; min mtime; ACL flag.
  let minSec = rootW.sec;
  let minNsec = rootW.nsec;
  let hasAcl = false;
  const filterCache = new Map<string, number>();
  const counts = new Map<string, { x: WXattr; count: number }>();
  for (let i = 0; i < nodes.length; i++) {
    const w = nodes[i] as WNode;
    w.ino = i;
    if (w.sec < minSec || (w.sec === minSec && w.nsec < minNsec)) {
      minSec = w.sec;
      minNsec = w.nsec;
    }
    const xm = w.xm;
    if (xm.size === 0) continue;
    const names = [...xm.keys()].sort(compareBytes);
    for (const name of names) {
      if (name === "system.posix_acl_access" || name === "system.posix_acl_default") hasAcl = true;
      const value = xm.get(name) as string;
      const key = `${name}\0${value}`;
      let ent = counts.get(key);
      if (!ent) {
        const [index, suffix] = prefixIndex(name);
        const entrySize = F.roundUp(F.XATTR_ENTRY_HEADER + suffix.length + value.length, 4);
        let filterBit = filterCache.get(name);
        if (filterBit === undefined) {
          filterBit = xxh32(latin1(suffix), F.XATTR_FILTER_SEED + index) & 31;
          filterCache.set(name, filterBit);
        }
        ent = { x: { name, value, key, index, suffix, entrySize, sharedOffset: -1, filterBit }, count: 0 };
        counts.set(key, ent);
      }
      ent.count++;
      w.xattrs.push(ent.x);
    }
  }

  // Shared xattrs: multi-use (name, value) pairs, sorted descending as libcomposefs does.
  const shared = [...counts.values()].filter((e) => e.count > 1).map((e) => e.x);
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
    if (w.xattrSize > F.XATTR_IBODY_HEADER + 0xffff * 4)
      throw new WriterError(String(w.ino), "too many xattrs");
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
      for (const e of w.entries) {
        const len = F.DIRENT_SIZE + e.name.length;
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
      w.tail = w.size;
    } else if (w.type === "file" && w.size > 0) {
      if (w.inline) {
        w.nBlocks = Math.floor(w.size / F.BLOCK_SIZE);
        w.tail = w.size % F.BLOCK_SIZE;
        if (w.tail > F.BLOCK_SIZE / 2) {
          w.nBlocks++;
          w.tail = 0;
        }
      } else {
        const bits = F.chunkBitsFor(w.size);
        w.tail = Math.ceil(w.size / 2 ** bits) * 4;
      }
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
      const total = nonTail + w.size;
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
      if (w.chunked) throw new WriterError(String(w.ino), "chunk index does not fit in one block");
      w.nBlocks++;
      w.tail = 0;
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

/** trusted.overlay.metacopy value: version 0, length 36, flags 0, algorithm 1 (sha256), digest. */
function metacopyValue(digest: Uint8Array): string {
  const v = Buffer.allocUnsafe(36);
  v.writeUInt32LE(0x01002400, 0);
  v.set(digest.subarray(0, 32), 4);
  return v.toString("latin1");
}

/**
 * For every non-directory node reachable under more than one name: the directory holding its first name in
 * depth-first, byte-sorted order (how mkcomposefs' dump parser picks the original among hardlinks).
 */
function firstDfsParents(root: DirNode, sortedNames: Map<DirNode, string[]>): Map<TreeNode, DirNode> {
  const first = new Map<TreeNode, DirNode>();
  const multi = new Map<TreeNode, DirNode>();
  // Pre-order with an explicit stack (entries pushed in reverse sorted order), so depth is unbounded.
  const stack: [TreeNode, DirNode, string][] = [[root, root, ""]];
  for (let top = stack.pop(); top; top = stack.pop()) {
    const [c, d, name] = top;
    if (c.type === "dir") {
      if (sortedNames.has(c))
        throw new WriterError(name, "directory reachable under two names (hardlinked directory or cycle)");
      const names = [...c.children.keys()].sort(compareBytes);
      sortedNames.set(c, names);
      for (let i = names.length - 1; i >= 0; i--) {
        const n = names[i] as string;
        stack.push([c.children.get(n) as TreeNode, c, n]);
      }
      continue;
    }
    const prior = first.get(c);
    if (prior === undefined) first.set(c, d);
    else if (c.type === "whiteout") throw new WriterError(name, "a whiteout cannot be hardlinked");
    else if (!multi.has(c)) multi.set(c, prior);
  }
  return multi;
}
