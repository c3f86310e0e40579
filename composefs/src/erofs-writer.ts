/**
 * Writes a composefs image: a composefs header plus an EROFS filesystem laid out exactly as libcomposefs'
 * `lcfs-writer-erofs.c` does (BFS inode order, compact/extended inodes, descending shared-xattr table, tail
 * packing rules, chunk-based external files with overlay metacopy/redirect xattrs, escaped `trusted.overlay.*`
 * xattrs, xattr-encoded whiteouts and the 256 root whiteouts). Format credit: containers/composefs
 * (GPL-2.0-or-later OR Apache-2.0); this is an independent reimplementation.
 * A symlink whose inode, xattrs and target fill a block or more is stored FLAT_PLAIN in a data block, as
 * mkcomposefs 1.0.8 does (per composefs-rs' compatibility notes); the kernel reads it through the page cache.
 */
import { layoutTree } from "./erofs-layout.ts";
import { serialize } from "./erofs-serialize.ts";
import { fsVerityDigest } from "./fsverity.ts";
import type { DirNode } from "./tree.ts";

/** Options for {@link writeImage}. */
export interface WriteImageOptions {
  /** Format version: 0, or 1 (whiteouts also mark the parent opaque). Default: 1 if the tree has whiteouts. */
  version?: 0 | 1;
}

/** A written composefs image. */
export interface ComposefsImage {
  image: Uint8Array;
  /** fs-verity sha256 digest of `image` (what `mkcomposefs --print-digest` prints). */
  digest: Uint8Array;
}

/** Writes `root` as a composefs image and returns it with its fs-verity digest. */
export function writeImage(root: DirNode, opts: WriteImageOptions = {}): ComposefsImage {
  const layout = layoutTree(root, opts);
  const image = serialize(layout);
  return { image, digest: fsVerityDigest(image) };
}
