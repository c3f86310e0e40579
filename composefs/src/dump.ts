/**
 * The composefs-dump(5) text format: one line per path with size, mode, nlink, uid, gid, rdev, mtime,
 * payload (redirect or symlink target), inline content, fs-verity digest and xattrs. Used as the writer's
 * text input (`mkcomposefs --from-file dump.txt`) and as the canonical, diffable form of a tree in tests and
 * `inspect`. Lines are what `composefs-info dump` (containers/composefs 1.0.8) prints for the same tree,
 * escaping included (see dump-escape.ts); the parser is in dump-parse.ts.
 */
import { escapeDumpField, escapeOptional } from "./dump-escape.ts";
import { toHex } from "./fsverity.ts";
import type { DirNode, TreeNode } from "./tree.ts";
import { bytesToName, compareBytes, modeOf } from "./tree.ts";

export { parseDump } from "./dump-parse.ts";

/**
 * Serializes a tree as composefs-dump text, depth-first in byte order. A node's second and later names are
 * hardlink lines: `@` before the mode and the first name as payload, the other fields the target's (as
 * `composefs-info dump` writes them; readers use only the mode and the payload of such lines).
 */
export function toDump(root: DirNode): string {
  const lines: string[] = [];
  const firstPath = new Map<TreeNode, string>();
  const nlinks = countLinks(root);
  const line = (path: string, n: TreeNode): void => {
    const prior = firstPath.get(n);
    if (prior === undefined) firstPath.set(n, path);
    let size: number | bigint = 0;
    let rdev = 0;
    let payload: string | undefined;
    let content: string | undefined;
    let digest = "-";
    if (n.type === "file") {
      size = n.size;
      payload = n.redirect || undefined;
      content = n.content && n.content.length > 0 ? bytesToName(n.content) : undefined;
      digest = n.digest ? toHex(n.digest) : "-";
    } else if (n.type === "symlink") {
      size = n.target.length;
      payload = n.target;
    } else if (n.type === "chardev" || n.type === "blockdev") rdev = n.rdev;
    const nlink =
      n.type === "dir"
        ? 2 + [...n.children.values()].filter((c) => c.type === "dir").length
        : (n.nlink ?? nlinks.get(n) ?? 1);
    let xattrs = "";
    for (const x of [...n.xattrs].sort((a, b) => compareBytes(a.name, b.name)))
      xattrs += ` ${escapeDumpField(x.name, EQ)}=${escapeDumpField(bytesToName(x.value), EQ)}`;
    const mode = `${prior === undefined ? "" : "@"}${modeOf(n).toString(8)}`;
    const ref = escapeOptional(prior ?? payload);
    lines.push(
      `${escapeDumpField(path)} ${size} ${mode} ${nlink} ${n.uid} ${n.gid} ${rdev} ${n.mtimeSec}.${n.mtimeNsec} ${ref} ${escapeOptional(content)} ${digest}${xattrs}`,
    );
    if (prior !== undefined || n.type !== "dir") return;
    // Explicit stack (children pushed in reverse) instead of recursion: trees read from hostile images
    // can be deeper than the call stack.
    const names = [...n.children.keys()].sort(compareBytes);
    for (let i = names.length - 1; i >= 0; i--) {
      const name = names[i] as string;
      stack.push([path === "/" ? `/${name}` : `${path}/${name}`, n.children.get(name) as TreeNode]);
    }
  };
  const stack: [string, TreeNode][] = [["/", root]];
  for (let top = stack.pop(); top; top = stack.pop()) line(top[0], top[1]);
  return `${lines.join("\n")}\n`;
}

const EQ = { equal: true } as const;

function countLinks(root: DirNode): Map<TreeNode, number> {
  const m = new Map<TreeNode, number>();
  const dirs: DirNode[] = [root];
  for (let d = dirs.pop(); d; d = dirs.pop()) {
    for (const c of d.children.values()) {
      const k = (m.get(c) ?? 0) + 1;
      m.set(c, k);
      if (c.type === "dir" && k === 1) dirs.push(c);
    }
  }
  return m;
}
