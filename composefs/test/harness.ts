/**
 * Test helpers for the composefs package: temp dirs that clean themselves up, mounts that always unmount,
 * a seeded random tree generator, and tree projections used to compare against tool output.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createExec } from "@powernode/exec";
import type { DirNode, FileNode, NodeMeta, TreeNode, Xattr } from "../src/tree.ts";
import { digestToPath } from "../src/tree.ts";

export const exec = createExec();

/** A temp directory (under `base`, default the OS temp dir) removed on dispose. */
export function tempDir(prefix = "cfs-", base = tmpdir()): { path: string; [Symbol.dispose](): void } {
  const path = mkdtempSync(join(base, prefix));
  return {
    path,
    [Symbol.dispose]() {
      rmSync(path, { recursive: true, force: true });
    },
  };
}

/** Mounts with `mount args… target`, runs `fn`, and always unmounts. */
export async function withMount<T>(args: string[], target: string, fn: () => Promise<T> | T): Promise<T> {
  await exec.run("mount", [...args, target]);
  try {
    return await fn();
  } finally {
    await exec.run("umount", [target]);
  }
}

/** Seeded PRNG (mulberry32). */
export function createRng(seed: number): {
  next(): number;
  int(lo: number, hi: number): number;
  pick<T>(a: readonly T[]): T;
  bytes(n: number): Uint8Array;
  chance(p: number): boolean;
} {
  let s = seed >>> 0;
  const next = (): number => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (lo: number, hi: number): number => lo + Math.floor(next() * (hi - lo + 1));
  return {
    next,
    int,
    pick: (a) => a[int(0, a.length - 1)] as (typeof a)[number],
    bytes: (n) => {
      const b = new Uint8Array(n);
      for (let i = 0; i < n; i++) b[i] = int(0, 255);
      return b;
    },
    chance: (p) => next() < p,
  };
}

/** Options of {@link randomTree}. */
export interface RandomTreeOptions {
  /** Roughly how many nodes. */
  size: number;
  /** Include a directory with more than 300 entries. */
  wide?: boolean;
  /**
   * Only what `fsck.erofs --extract --xattrs` (erofs-utils 1.8.6) can reproduce: no user.* xattrs on
   * symlinks/devices, and no empty xattr values anywhere (it aborts an inode's xattrs at the first empty
   * value), hence no whiteouts and no external files without a digest (both carry empty marker xattrs).
   */
  extractable?: boolean;
  /** Largest external file size (default 2^40). */
  maxFileSize?: number;
}

/** A random tree exercising every feature of the format, deterministic for a seed. */
export function randomTree(seed: number, o: RandomTreeOptions): DirNode {
  const r = createRng(seed);
  const baseTime = r.int(0, 2_000_000_000);
  const sharedPool: Xattr[] = Array.from({ length: 6 }, (_, i) => ({
    name: `${r.pick(["user.", "trusted.", "security."])}shared${i}`,
    value: r.bytes(r.int(o.extractable ? 1 : 0, 40)),
  }));
  const name = (): string => {
    const len = r.chance(0.05) ? r.int(200, 255) : r.int(1, 16);
    let s = "";
    for (let i = 0; i < len; i++) {
      let c = r.chance(0.8) ? r.int(0x21, 0x7e) : r.int(1, 255);
      if (c === 0x2f) c = 0x5f;
      s += String.fromCharCode(c);
    }
    return s === "." || s === ".." ? `${s}x` : s;
  };
  const meta = (kind: "dir" | "file" | "other"): NodeMeta => {
    const xattrs = new Map<string, Uint8Array>();
    const n = r.chance(0.5) ? 0 : r.int(1, 4);
    for (let i = 0; i < n; i++) {
      if (r.chance(0.4)) {
        const x = r.pick(sharedPool);
        if (kind === "other" && o.extractable && x.name.startsWith("user.")) continue;
        xattrs.set(x.name, x.value);
        continue;
      }
      const prefixes =
        kind === "other" && o.extractable
          ? ["trusted.", "security.", "trusted.overlay."]
          : ["user.", "trusted.", "security.", "trusted.overlay."];
      const p = r.pick(prefixes);
      let suffix = "";
      for (let k = r.int(1, 20); k > 0; k--) suffix += String.fromCharCode(r.int(0x21, 0x7e));
      if (
        p === "trusted.overlay." &&
        [
          "whiteout",
          "whiteouts",
          "opaque",
          "metacopy",
          "redirect",
          "origin",
          "upper",
          "impure",
          "nlink",
          "uuid",
          "verity",
        ].includes(suffix)
      )
        suffix += "_";
      xattrs.set(p + suffix, r.bytes(r.chance(0.1) ? r.int(100, 600) : r.int(o.extractable ? 1 : 0, 30)));
    }
    const odd = r.chance(0.3);
    return {
      perm: r.int(0, 0o7777),
      uid: r.chance(0.2) ? r.int(65536, 0xfffffffe) : r.int(0, 1000),
      gid: r.chance(0.2) ? r.int(65536, 0xfffffffe) : r.int(0, 1000),
      mtimeSec: odd ? r.int(0, 4_000_000_000) : baseTime,
      mtimeNsec: odd ? r.int(0, 999_999_999) : 0,
      xattrs: [...xattrs.entries()]
        .map(([n, v]) => ({ name: n, value: v }))
        .sort((a, b) => (a.name < b.name ? -1 : 1)),
    };
  };
  const maxSize = o.maxFileSize ?? 2 ** 40;
  const leaf = (): TreeNode => {
    const k = r.int(0, 11);
    if (k <= 3) {
      const size = r.chance(0.3)
        ? r.int(1, 64)
        : r.chance(0.2)
          ? 0
          : r.chance(0.2)
            ? maxSize
            : r.int(65, Math.min(maxSize, 1 << 20));
      const f: FileNode = { ...meta("file"), type: "file", size };
      if (size > 0 && size <= 64 && r.chance(0.8)) f.content = r.bytes(size);
      else if (size > 0) {
        if (o.extractable || r.chance(0.9)) f.digest = r.bytes(32);
        if (f.digest && r.chance(0.9)) f.redirect = digestToPath(f.digest);
      }
      return f;
    }
    if (k <= 5) {
      const len = r.chance(0.1) ? r.int(3900, 4095) : r.int(1, 100);
      let t = "";
      for (let i = 0; i < len; i++) t += String.fromCharCode(r.int(1, 255));
      return { ...meta("other"), type: "symlink", target: t };
    }
    if (k === 6)
      return { ...meta("other"), type: r.chance(0.5) ? "chardev" : "blockdev", rdev: r.int(1, 0xfffff) };
    if (k === 7) return { ...meta("other"), type: "fifo" };
    if (k === 8) return { ...meta("other"), type: "socket" };
    if (k === 9 && !o.extractable) return { ...meta("file"), type: "whiteout" };
    return { ...meta("file"), type: "file", size: 0 };
  };
  const root: DirNode = { ...meta("dir"), type: "dir", children: new Map() };
  const dirs: DirNode[] = [root];
  const leaves: TreeNode[] = [];
  const add = (d: DirNode, n: TreeNode): void => {
    for (let tries = 0; tries < 5; tries++) {
      const nm = name();
      if (!d.children.has(nm)) {
        d.children.set(nm, n);
        return;
      }
    }
  };
  // A deep chain.
  let deep = root;
  for (let i = r.int(2, 12); i > 0; i--) {
    const d: DirNode = { ...meta("dir"), type: "dir", children: new Map() };
    add(deep, d);
    dirs.push(d);
    deep = d;
  }
  for (let i = 0; i < o.size; i++) {
    const parent = r.pick(dirs);
    if (r.chance(0.15)) {
      const d: DirNode = { ...meta("dir"), type: "dir", children: new Map() };
      add(parent, d);
      dirs.push(d);
    } else if (leaves.length > 0 && r.chance(0.08)) {
      add(parent, r.pick(leaves.filter((l) => l.type !== "whiteout")) ?? leaf());
    } else {
      const l = leaf();
      leaves.push(l);
      add(parent, l);
    }
  }
  if (o.wide) {
    const d: DirNode = { ...meta("dir"), type: "dir", children: new Map() };
    add(root, d);
    for (let i = 0; i < 320; i++) add(d, { ...meta("file"), type: "file", size: 0 });
  }
  return root;
}

/** Maps every node of a tree (hardlinks preserved) through `f`. */
export function mapTree(root: DirNode, f: (n: TreeNode) => TreeNode | undefined): DirNode {
  const done = new Map<TreeNode, TreeNode | undefined>();
  const go = (n: TreeNode): TreeNode | undefined => {
    if (done.has(n)) return done.get(n);
    const m = f(n);
    done.set(n, m);
    if (m && m.type === "dir" && n.type === "dir") {
      const children = new Map<string, TreeNode>();
      for (const [k, c] of n.children) {
        const mc = go(c);
        if (mc) children.set(k, mc);
      }
      m.children = children;
    }
    return m;
  };
  return go(root) as DirNode;
}

/** Fails with a clear reason unless kernel mounts can run here (root). */
export function requireRoot(what: string): void {
  if (process.getuid?.() !== 0) {
    throw new Error(
      `${what} needs root to mount erofs and overlay; this process runs as uid ${process.getuid?.()}`,
    );
  }
}

/** Mounts a composefs image plus object dir as overlay at `mnt` (erofs at `meta`), runs `fn`, unmounts both. */
export async function withComposefsMount<T>(
  image: string,
  objects: string,
  meta: string,
  mnt: string,
  fn: () => Promise<T> | T,
): Promise<T> {
  return withMount(["-t", "erofs", "-o", "ro", image], meta, () =>
    withMount(
      ["-t", "overlay", "overlay", "-o", `ro,metacopy=on,redirect_dir=on,lowerdir=${meta}::${objects}`],
      mnt,
      fn,
    ),
  );
}
