/**
 * Inode order of a composefs image, as libcomposefs gives it: breadth-first from the root, children in
 * byte-wise (`strcmp`) order with `.` and `..` among them, the root's 256 whiteouts `00`..`ff` merged in.
 * A node under several names (hardlink) takes its slot at its first name in depth-first sorted order (the
 * "original" when mkcomposefs parses a dump); its other names only refer to it. Also sets link counts and
 * the overlay markers of directories holding whiteouts.
 */
import * as F from "./erofs-format.ts";
import { validateName, validateNode, WriterError } from "./erofs-validate.ts";
import { WNode } from "./erofs-wnode.ts";
import type { DirNode, TreeNode } from "./tree.ts";
import { ORIGINAL_DIR } from "./tree.ts";

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/** The inodes of `root` in image order. Throws a WriterError naming the path for invalid trees. */
export function orderInodes(root: DirNode, version: number): WNode[] {
  const sorted = new Map<DirNode, string[]>();
  const canonical = hardlinkParents(root, sorted);
  const shared = new Map<TreeNode, WNode>();
  const make = (src: TreeNode | undefined, name: string, parent: WNode, proto?: WNode): WNode => {
    const w = new WNode(src, name, parent, proto);
    if (src) {
      const problem = validateNode(src);
      if (problem) throw new WriterError(w.path(), problem);
    }
    return w;
  };
  const rootW = new WNode(root, "", undefined);
  const problem = validateNode(root);
  if (problem) throw new WriterError("/", problem);
  rootW.parent = rootW;
  rootW.dir = root;
  const nodes: WNode[] = [rootW];
  for (let qi = 0; qi < nodes.length; qi++) {
    const w = nodes[qi] as WNode;
    const dir = w.dir;
    if (!dir) continue;
    const own = sorted.get(dir) as string[];
    let names: string[];
    if (w === rootW) {
      names = [...own, ".", ".."];
      for (const hx of HEX) if (!dir.children.has(hx)) names.push(hx);
      names.sort(); // byte strings: the default (UTF-16 code unit) sort is strcmp order
    } else names = withDots(own);
    w.names = [];
    w.targets = [];
    let subdirs = 0;
    for (const name of names) {
      let cw: WNode;
      if (name === ".") cw = w;
      else if (name === "..") cw = w.parent as WNode;
      else {
        const child = dir.children.get(name);
        if (!child) {
          // One of the 256 root whiteouts hiding the object directories on kernels without data-only layers.
          cw = make(undefined, name, w, rootW);
          const selinux = w.getXattr("security.selinux");
          if (selinux !== undefined) cw.setXattr("security.selinux", selinux);
          nodes.push(cw);
        } else {
          const bad = validateName(name);
          if (bad) throw new WriterError(`${w.path()}/${name}`, bad);
          if (child.type === "dir") {
            cw = make(child, name, w);
            cw.dir = child;
            nodes.push(cw);
            subdirs++;
          } else {
            const canon = canonical.get(child);
            const existing = canon ? shared.get(child) : undefined;
            cw = existing ?? make(child, name, w);
            if (canon && !existing) shared.set(child, cw);
            if ((canon === undefined || canon === dir) && !cw.placed) {
              cw.placed = true;
              nodes.push(cw);
              if (child.type === "whiteout") {
                w.setXattr(F.OVL.escWhiteouts, "");
                w.setXattr(F.OVL.userWhiteouts, "");
                if (version >= 1) {
                  w.setXattr(F.OVL.escOpaque, "x");
                  w.setXattr(F.OVL.userOpaque, "x");
                }
              }
            }
          }
        }
      }
      if (cw !== w && cw !== w.parent) cw.nlink++;
      w.names.push(name);
      w.targets.push(cw);
    }
    w.nlink = 2 + subdirs;
  }
  for (const w of shared.values()) {
    if (!w.placed) throw new WriterError(w.path(), "internal error: hardlinked node never placed");
  }
  // A source that states a link count (dump text, an image) keeps it, as mkcomposefs does.
  for (const w of nodes) if (w.type !== "dir" && w.src?.nlink !== undefined) w.nlink = w.src.nlink;
  rootW.setXattr(F.OVL.opaque, "y");
  return nodes;
}

/** `sorted` (strcmp order) with "." and ".." merged in at their places. */
function withDots(sorted: string[]): string[] {
  let i = 0;
  while (i < sorted.length && (sorted[i] as string) < ".") i++;
  const out = sorted.slice(0, i);
  out.push(".");
  while (i < sorted.length && (sorted[i] as string) < "..") out.push(sorted[i++] as string);
  out.push("..");
  for (; i < sorted.length; i++) out.push(sorted[i] as string);
  return out;
}

/**
 * Sorts every directory's names into `sorted` and returns, for each non-directory node reachable under more
 * than one name, the directory holding its first name in depth-first, byte-sorted order. Rejects hardlinked
 * directories, directory cycles and hardlinked whiteouts.
 */
function hardlinkParents(root: DirNode, sorted: Map<DirNode, string[]>): Map<TreeNode, DirNode> {
  const seen = new Set<TreeNode>();
  let multi: Set<TreeNode> | undefined;
  const dirs: DirNode[] = [root];
  sorted.set(root, [...root.children.keys()].sort());
  for (let d = dirs.pop(); d; d = dirs.pop()) {
    for (const c of d.children.values()) {
      if (c.type === "dir") {
        if (sorted.has(c))
          throw new WriterError(
            [...d.children].find(([, v]) => v === c)?.[0] ?? "",
            "directory reachable under two names (hardlinked directory or cycle)",
          );
        sorted.set(c, [...c.children.keys()].sort());
        dirs.push(c);
      } else if (!seen.has(c)) seen.add(c);
      else {
        multi ??= new Set();
        multi.add(c);
      }
    }
  }
  const first = new Map<TreeNode, DirNode>();
  if (!multi) return first;
  // Depth-first pre-order, names in order, explicit stack (depth is unbounded).
  const stack: { d: DirNode; names: string[]; i: number }[] = [
    { d: root, names: sorted.get(root) as string[], i: 0 },
  ];
  while (stack.length > 0) {
    const top = stack[stack.length - 1] as { d: DirNode; names: string[]; i: number };
    if (top.i >= top.names.length) {
      stack.pop();
      continue;
    }
    const n = top.names[top.i++] as string;
    const c = top.d.children.get(n) as TreeNode;
    if (c.type === "dir") stack.push({ d: c, names: sorted.get(c) as string[], i: 0 });
    else if (multi.has(c)) {
      if (c.type === "whiteout") throw new WriterError(n, "a whiteout cannot be hardlinked");
      if (!first.has(c)) first.set(c, ORIGINAL_DIR.get(c) ?? top.d);
    }
  }
  return first;
}
