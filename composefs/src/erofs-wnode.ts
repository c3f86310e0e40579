/**
 * One inode of an image being written (the writer's working form of a tree node), with the overlay xattrs
 * it gets and mkcomposefs' count of xattr bytes. A class, so that 100,000 of them share one shape.
 */
import * as F from "./erofs-format.ts";
import type { DirNode, FileSize, TreeNode } from "./tree.ts";
import { bytesToName, modeOf, normalizeSize, TYPE_BITS } from "./tree.ts";

/** One (name, value) xattr of the image, shared between inodes that carry the same pair. */
export interface WXattr {
  name: string;
  /** Value as a byte string (one char per byte): cheap to key, compare and write. */
  value: string;
  index: number;
  suffix: string;
  entrySize: number;
  sharedOffset: number;
  /** Bit of the inode's xattr name filter (xxh32 of the suffix, seeded by the prefix index). */
  filterBit: number;
  count: number;
}

/**
 * mkcomposefs' limit on one inode's xattrs (LCFS_INODE_EXTERNAL_XATTR_MAX, half of EROFS' 16-bit room):
 * the ibody header plus, per xattr, 7 + name + value bytes (the name as given, before overlay escaping).
 */
export const XATTR_LIMIT = 0x7fff;

/** The shared empty array of nodes without xattrs or entries (never written to). */
const NONE = Object.freeze([]) as unknown as never[];

export class WNode {
  type: TreeNode["type"];
  mode: number;
  uid: number;
  gid: number;
  sec: number;
  nsec: number;
  nlink = 0;
  /** i_size: dirent bytes, target length, file size (a bigint only above 2^53 - 1). */
  size: FileSize = 0;
  rdev = 0;
  /** Xattr names and values of the image (overlay ones included), in insertion order; shared empty until set. */
  xn: string[] = NONE;
  xv: string[] = NONE;
  /** Bytes mkcomposefs counts against {@link XATTR_LIMIT}. */
  xattrBytes = 0;
  xattrs: WXattr[] = NONE;
  /** Dirent names and targets (directories only, set by the inode order), sorted, `.` and `..` included. */
  names: string[] = NONE;
  targets: WNode[] = NONE;
  inline: Uint8Array | undefined = undefined;
  chunked = false;
  /** Source directory (directories only) and parent, for the BFS and for error paths. */
  dir: DirNode | undefined = undefined;
  parent: WNode | undefined;
  placed = false;
  ino = 0;
  nid = 0;
  nBlocks = 0;
  tail = 0;
  compact = true;
  ipad = 0;
  xattrSize = 0;
  nShared = 0;

  /** `src` undefined: one of the root's 256 whiteouts, taking owner and time from `proto`. */
  constructor(
    readonly src: TreeNode | undefined,
    readonly name: string,
    parent: WNode | undefined,
    proto?: WNode,
  ) {
    this.parent = parent;
    this.type = src ? src.type : "whiteout";
    this.mode = src ? modeOf(src) : TYPE_BITS.chardev | 0o644;
    this.uid = src ? src.uid : (proto?.uid ?? 0);
    this.gid = src ? src.gid : (proto?.gid ?? 0);
    this.sec = src ? src.mtimeSec : (proto?.sec ?? 0);
    this.nsec = src ? src.mtimeNsec : (proto?.nsec ?? 0);
    if (!src) return;
    for (const x of src.xattrs) {
      // Counted under the source name: mkcomposefs escapes trusted.overlay.* by renaming after counting.
      const escaped = x.name.startsWith(F.OVL.prefix);
      const name = escaped ? F.OVL.escapePrefix + x.name.slice(F.OVL.prefix.length) : x.name;
      this.setXattr(name, bytesToName(x.value), x.name.length);
    }
    switch (src.type) {
      case "file":
        this.size = typeof src.size === "bigint" ? normalizeSize(src.size) : src.size;
        if (src.size > 0 && src.content) this.inline = src.content;
        else if (src.size > 0) {
          this.chunked = true;
          this.setXattr(F.OVL.metacopy, src.digest ? metacopyValue(src.digest) : "");
          if (src.redirect) this.setXattr(F.OVL.redirect, `/${src.redirect}`);
        }
        break;
      case "symlink":
        this.inline = Buffer.from(src.target, "latin1");
        this.size = src.target.length;
        break;
      case "chardev":
      case "blockdev":
        this.rdev = src.rdev;
        break;
      case "whiteout":
        // Escaped whiteout: an empty regular file the overlay stack interprets (xwhiteouts).
        this.mode = TYPE_BITS.file | (src.perm & 0o7777);
        this.type = "file";
        this.setXattr(F.OVL.escWhiteout, "");
        this.setXattr(F.OVL.userWhiteout, "");
        break;
    }
  }

  /** Sets an image xattr, keeping mkcomposefs' byte count (`countedName`: the source name's length). */
  setXattr(name: string, value: string, countedName = name.length): void {
    if (this.xn === NONE) {
      this.xn = [];
      this.xv = [];
    }
    const i = this.xn.indexOf(name);
    if (i >= 0) {
      this.xattrBytes -= 7 + name.length + (this.xv[i] as string).length;
      this.xv[i] = value;
    } else {
      this.xn.push(name);
      this.xv.push(value);
    }
    this.xattrBytes += 7 + countedName + value.length;
  }

  getXattr(name: string): string | undefined {
    const i = this.xn.indexOf(name);
    return i < 0 ? undefined : this.xv[i];
  }

  /** Path for error messages (rebuilt from names; never computed on the hot path). */
  path(): string {
    const parts: string[] = [];
    for (let x: WNode | undefined = this; x?.parent && x.parent !== x; x = x.parent) parts.push(x.name);
    return `/${parts.reverse().join("/")}`;
  }
}

/** trusted.overlay.metacopy value: version 0, length 36, flags 0, algorithm 1 (sha256), digest. */
function metacopyValue(d: Uint8Array): string {
  const c = String.fromCharCode;
  // biome-ignore format: one call with the 32 digest bytes (no subarray, no apply: measured hot)
  return c(0, 0x24, 0, 1, d[0] as number, d[1] as number, d[2] as number, d[3] as number, d[4] as number, d[5] as number, d[6] as number, d[7] as number, d[8] as number, d[9] as number, d[10] as number, d[11] as number, d[12] as number, d[13] as number, d[14] as number, d[15] as number, d[16] as number, d[17] as number, d[18] as number, d[19] as number, d[20] as number, d[21] as number, d[22] as number, d[23] as number, d[24] as number, d[25] as number, d[26] as number, d[27] as number, d[28] as number, d[29] as number, d[30] as number, d[31] as number);
}
