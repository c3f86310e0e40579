/**
 * The composefs-dump(5) text format: one line per path with size, mode, nlink, uid, gid, rdev, mtime,
 * payload (redirect or symlink target), inline content, fs-verity digest and xattrs. Used as the writer's
 * text input (`mkcomposefs dump.txt`) and as the canonical, diffable form of a tree in tests and `inspect`.
 */
import { ComposefsFormatError, isComposefsFormatError, type ParseResult } from "./errors.ts";
import { fromHex, toHex } from "./fsverity.ts";
import type { DirNode, NodeMeta, TreeNode, Xattr } from "./tree.ts";
import { compareBytes, createDir, modeOf } from "./tree.ts";

const HEX = "0123456789abcdef";

/** Escapes a byte string for a dump field (`-` stands for empty, so a literal `-` is escaped). */
export function escapeField(s: string, isXattrKey = false): string {
  if (s.length === 0) return "-";
  let out = "";
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x5c) out += "\\\\";
    else if (c <= 0x20 || c >= 0x7f || (isXattrKey && c === 0x3d)) out += `\\x${HEX[c >> 4]}${HEX[c & 15]}`;
    else out += s[i];
  }
  return out === "-" ? "\\x2d" : out;
}

function unescapeField(s: string, at: number): string {
  if (s === "-") return "";
  let out = "";
  for (let i = 0; i < s.length; i++) {
    const ch = s[i] as string;
    if (ch !== "\\") {
      out += ch;
      continue;
    }
    const n = s[i + 1];
    if (n === "\\") out += "\\";
    else if (n === "n") out += "\n";
    else if (n === "r") out += "\r";
    else if (n === "t") out += "\t";
    else if (n === "x" && /^[0-9a-fA-F]{2}$/.test(s.slice(i + 2, i + 4))) {
      out += String.fromCharCode(Number.parseInt(s.slice(i + 2, i + 4), 16));
      i += 2;
    } else throw new ComposefsFormatError(at, `bad escape in ${JSON.stringify(s)}`);
    i++;
  }
  return out;
}

const latin1 = (b: Uint8Array): string =>
  Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("latin1");

/** Serializes a tree as composefs-dump text, depth-first in byte order; hardlinks as `@mode` lines. */
export function toDump(root: DirNode): string {
  const lines: string[] = [];
  const firstPath = new Map<TreeNode, string>();
  const nlinks = countLinks(root);
  const line = (path: string, n: TreeNode): void => {
    const prior = firstPath.get(n);
    if (prior !== undefined) {
      lines.push(`${escapeField(path)} 0 @${modeOf(n).toString(8)} - - - - 0.0 ${escapeField(prior)} - -`);
      return;
    }
    firstPath.set(n, path);
    let size = 0;
    let rdev = 0;
    let payload = "";
    let content = "";
    let digest = "-";
    if (n.type === "file") {
      size = n.size;
      payload = n.redirect ?? "";
      content = n.content ? latin1(n.content) : "";
      digest = n.digest ? toHex(n.digest) : "-";
    } else if (n.type === "symlink") {
      size = n.target.length;
      payload = n.target;
    } else if (n.type === "chardev" || n.type === "blockdev") rdev = n.rdev;
    const nlink =
      n.type === "dir"
        ? 2 + [...n.children.values()].filter((c) => c.type === "dir").length
        : (nlinks.get(n) ?? 1);
    const xattrs = [...n.xattrs]
      .sort((a, b) => compareBytes(a.name, b.name))
      .map((x) => ` ${escapeField(x.name, true)}=${escapeField(latin1(x.value))}`)
      .join("");
    lines.push(
      `${escapeField(path)} ${size} ${modeOf(n).toString(8)} ${nlink} ${n.uid} ${n.gid} ${rdev} ${n.mtimeSec}.${n.mtimeNsec} ${escapeField(payload)} ${escapeField(content)} ${digest}${xattrs}`,
    );
    if (n.type === "dir") {
      // Explicit stack (children pushed in reverse) instead of recursion: trees read from hostile images
      // can be deeper than the call stack.
      const names = [...n.children.keys()].sort(compareBytes);
      for (let i = names.length - 1; i >= 0; i--) {
        const name = names[i] as string;
        stack.push([path === "/" ? `/${name}` : `${path}/${name}`, n.children.get(name) as TreeNode]);
      }
    }
  };
  const stack: [string, TreeNode][] = [["/", root]];
  for (let top = stack.pop(); top; top = stack.pop()) line(top[0], top[1]);
  return `${lines.join("\n")}\n`;
}

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

/** Parses composefs-dump text into a tree. Errors name the character offset and line. */
export function parseDump(text: string): ParseResult<DirNode> {
  try {
    return { ok: true, value: parseDumpOrThrow(text) };
  } catch (e) {
    if (isComposefsFormatError(e)) return { ok: false, error: e };
    throw e;
  }
}

function parseDumpOrThrow(text: string): DirNode {
  let root: DirNode | undefined;
  const byPath = new Map<string, TreeNode>();
  let at = 0;
  let lineNo = 0;
  for (const raw of text.split("\n")) {
    const lineAt = at;
    at += raw.length + 1;
    lineNo++;
    if (raw.trim() === "") continue;
    const bad = (problem: string): never => {
      throw new ComposefsFormatError(lineAt, `line ${lineNo}: ${problem}`);
    };
    const f = raw.split(" ");
    if (f.length < 11) bad(`expected at least 11 fields, got ${f.length}`);
    const [pathF, sizeF, modeF, , uidF, gidF, rdevF, mtimeF, payloadF, contentF, digestF] = f as [
      string,
      string,
      string,
      string,
      string,
      string,
      string,
      string,
      string,
      string,
      string,
    ];
    const path = normalizePath(unescapeField(pathF, lineAt), bad);
    const hardlink = modeF.startsWith("@");
    const mode = Number.parseInt(hardlink ? modeF.slice(1) : modeF, 8);
    if (!Number.isInteger(mode) || mode < 0 || mode > 0o177777) bad(`bad mode ${modeF}`);
    const num = (s: string, what: string): number => {
      const v = Number(s);
      if (!/^\d+$/.test(s) || !Number.isSafeInteger(v)) bad(`bad ${what} ${JSON.stringify(s)}`);
      return v;
    };
    let node: TreeNode;
    if (hardlink) {
      const target = byPath.get(normalizePath(unescapeField(payloadF, lineAt), bad));
      if (!target) bad(`hardlink target ${payloadF} not defined earlier`);
      if ((target as TreeNode).type === "dir") bad("hardlink to a directory");
      node = target as TreeNode;
    } else {
      const [secS, nsecS = "0"] = mtimeF.split(".");
      const xattrs: Xattr[] = [];
      for (const xf of f.slice(11)) {
        if (xf === "") continue;
        const eq = xf.indexOf("=");
        if (eq <= 0) bad(`bad xattr field ${JSON.stringify(xf)}`);
        xattrs.push({
          name: unescapeField(xf.slice(0, eq), lineAt),
          value: Buffer.from(unescapeField(xf.slice(eq + 1), lineAt), "latin1"),
        });
      }
      const meta: NodeMeta = {
        perm: mode & 0o7777,
        uid: num(uidF, "uid"),
        gid: num(gidF, "gid"),
        mtimeSec: num(secS ?? "", "mtime"),
        mtimeNsec: num(nsecS, "mtime nsec"),
        xattrs,
      };
      const payload = unescapeField(payloadF, lineAt);
      const size = num(sizeF, "size");
      const rdev = num(rdevF, "rdev");
      switch (mode & 0o170000) {
        case 0o040000:
          node = createDir(meta);
          break;
        case 0o100000: {
          const content = unescapeField(contentF, lineAt);
          const file: TreeNode = { ...meta, type: "file", size };
          if (content.length > 0) {
            if (content.length !== size) bad(`inline content is ${content.length} bytes, size says ${size}`);
            file.content = Buffer.from(content, "latin1");
          }
          if (digestF !== "-") {
            try {
              file.digest = fromHex(digestF);
            } catch {
              bad(`bad digest ${digestF}`);
            }
            if (file.digest?.length !== 32) bad("digest is not 32 bytes");
          }
          if (payload.length > 0) file.redirect = payload;
          node = file;
          break;
        }
        case 0o120000:
          if (payload.length === 0) bad("symlink without target");
          node = { ...meta, type: "symlink", target: payload };
          break;
        case 0o020000:
          node = rdev === 0 ? { ...meta, type: "whiteout" } : { ...meta, type: "chardev", rdev };
          break;
        case 0o060000:
          node = { ...meta, type: "blockdev", rdev };
          break;
        case 0o010000:
          node = { ...meta, type: "fifo" };
          break;
        case 0o140000:
          node = { ...meta, type: "socket" };
          break;
        default:
          return bad(`unknown file type in mode ${modeF}`);
      }
    }
    if (path === "/") {
      if (node.type !== "dir") bad("root is not a directory");
      if (root) bad("root defined twice");
      root = node as DirNode;
      byPath.set("/", root);
      continue;
    }
    const slash = path.lastIndexOf("/");
    const parentPath = slash === 0 ? "/" : path.slice(0, slash);
    const name = path.slice(slash + 1);
    const parent = byPath.get(parentPath);
    if (parent?.type !== "dir")
      bad(`parent ${JSON.stringify(parentPath)} is not a directory defined earlier`);
    const dir = parent as DirNode;
    if (dir.children.has(name)) bad(`duplicate path ${JSON.stringify(path)}`);
    dir.children.set(name, node);
    if (!byPath.has(path)) byPath.set(path, node);
  }
  if (!root) throw new ComposefsFormatError(0, 'no root ("/") line');
  return root;
}

function normalizePath(p: string, bad: (problem: string) => never): string {
  if (!p.startsWith("/")) bad(`path ${JSON.stringify(p)} is not absolute`);
  const parts = p.split("/").filter((x) => x !== "");
  for (const part of parts) {
    if (part === "." || part === ".." || part.includes("\0"))
      bad(`bad path component in ${JSON.stringify(p)}`);
  }
  return `/${parts.join("/")}`;
}
