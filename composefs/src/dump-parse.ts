/**
 * Parses composefs-dump(5) text into a tree, as `mkcomposefs --from-file` (containers/composefs 1.0.8)
 * reads it: signed mtimes (`-1.0`), sizes up to 2^64 - 1, the nlink field kept for non-directories,
 * hardlink lines (`@mode`, target path as payload) resolved after all lines (a target may come later),
 * a repeated xattr name replacing the earlier value. Errors name the character offset and the line.
 * Built for speed: one pass, fields without a backslash taken as they are, parents found from the last
 * directory seen (dumps are depth-first).
 */
import { unescapeBytes, unescapeDumpField, unescapeOptional } from "./dump-escape.ts";
import { ComposefsFormatError, isComposefsFormatError, type ParseResult } from "./errors.ts";
import { fromHex } from "./fsverity.ts";
import type { DirNode, FileNode, FileSize, NodeMeta, TreeNode, Xattr } from "./tree.ts";
import { MAX_FILE_SIZE, normalizeSize, ORIGINAL_DIR } from "./tree.ts";

/** Parses composefs-dump text into a tree. */
export function parseDump(text: string): ParseResult<DirNode> {
  try {
    return { ok: true, value: parseDumpOrThrow(text) };
  } catch (e) {
    if (isComposefsFormatError(e)) return { ok: false, error: e };
    throw e;
  }
}

interface PendingLink {
  dir: DirNode;
  name: string;
  path: string;
  target: string;
  at: number;
}

const SMALL_UINT = /^\d{1,15}$/;
const BIG_UINT = /^\d{16,20}$/;
const MODE = /^[0-7]{1,6}$/;
/** Paths needing normalization: repeated or trailing slashes, `.`/`..` components, NUL. */
const ODD_PATH = /\/\/|\/\.\.?(\/|$)|.\/$|\0/;

/** Where the parser is, for errors. */
interface Cursor {
  at: number;
  line: number;
}

function fail(c: Cursor, problem: string): never {
  throw new ComposefsFormatError(c.at, `line ${c.line}: ${problem}`);
}

function uint(s: string, what: string, c: Cursor, max = 0xffffffff): number {
  const v = SMALL_UINT.test(s) ? Number(s) : -1;
  if (v < 0 || v > max) fail(c, `bad ${what} ${JSON.stringify(s)}`);
  return v;
}

function parseDumpOrThrow(text: string): DirNode {
  let root: DirNode | undefined;
  const dirs = new Map<string, DirNode>();
  const pending: PendingLink[] = [];
  let lastDirPath = "";
  let lastDir: DirNode | undefined;
  const c: Cursor = { at: 0, line: 0 };
  let next = 0;
  for (const raw of text.split("\n")) {
    c.at = next;
    next += raw.length + 1;
    c.line++;
    if (raw.length === 0 || (raw.charCodeAt(0) <= 0x20 && raw.trim() === "")) continue;
    const f = raw.split(" ");
    if (f.length < 11) fail(c, `expected at least 11 fields, got ${f.length}`);
    const path = normalizePath(unescapeDumpField(f[0] as string, c.at), c);
    const modeF = f[2] as string;
    const hardlink = modeF.charCodeAt(0) === 0x40;
    const modeS = hardlink ? modeF.slice(1) : modeF;
    const mode = MODE.test(modeS) ? Number.parseInt(modeS, 8) : -1;
    if (mode < 0 || mode > 0o177777) fail(c, `bad mode ${modeF}`);

    const slash = path.lastIndexOf("/");
    const name = path.slice(slash + 1);
    let parent: DirNode | undefined;
    if (path !== "/") {
      const parentPath = slash === 0 ? "/" : path.slice(0, slash);
      parent = parentPath === lastDirPath ? lastDir : dirs.get(parentPath);
      if (!parent) fail(c, `parent ${JSON.stringify(parentPath)} is not a directory defined earlier`);
      if (parent.children.has(name)) fail(c, `duplicate path ${JSON.stringify(path)}`);
    }
    if (hardlink) {
      if ((mode & 0o170000) === 0o040000) fail(c, "directories can't be hardlinked");
      const target = unescapeOptional(f[8] as string, c.at);
      if (target === undefined || !parent) return fail(c, "hardlink without a target path");
      pending.push({ dir: parent, name, path, target, at: c.at });
      // Reserve the name; the node is put in place once every line is read.
      parent.children.set(name, RESERVED);
      continue;
    }

    const secF = f[7] as string;
    const dot = secF.indexOf(".");
    const secS = dot < 0 ? secF : secF.slice(0, dot);
    const neg = secS.charCodeAt(0) === 0x2d;
    const sec = uint(neg ? secS.slice(1) : secS, "mtime", c, Number.MAX_SAFE_INTEGER);
    const xattrs: Xattr[] = f.length > 11 ? parseXattrs(f, c) : [];
    const meta: NodeMeta = {
      perm: mode & 0o7777,
      uid: uint(f[4] as string, "uid", c),
      gid: uint(f[5] as string, "gid", c),
      mtimeSec: neg ? -sec : sec,
      mtimeNsec: dot < 0 ? 0 : uint(secF.slice(dot + 1), "mtime nsec", c),
      xattrs,
    };
    const type = mode & 0o170000;
    if (type !== 0o040000) meta.nlink = uint(f[3] as string, "nlink", c);
    const node = makeNode(type, meta, f, c);
    if (!parent) {
      if (node.type !== "dir") fail(c, "root is not a directory");
      if (root) fail(c, "root defined twice");
      root = node;
    } else parent.children.set(name, node);
    if (node.type === "dir") {
      dirs.set(path, node);
      lastDirPath = path;
      lastDir = node;
    }
  }
  if (!root) throw new ComposefsFormatError(0, 'no root ("/") line');
  resolveLinks(root, pending);
  return root;
}

function parseXattrs(f: string[], c: Cursor): Xattr[] {
  const xattrs: Xattr[] = [];
  let text = 0;
  for (let i = 11; i < f.length; i++) {
    const xf = f[i] as string;
    if (xf === "") continue;
    text += xf.length + 1;
    const eq = xf.indexOf("=");
    if (eq <= 0) fail(c, `bad xattr field ${JSON.stringify(xf)}`);
    const name = unescapeDumpField(xf.slice(0, eq), c.at);
    const value = unescapeBytes(xf.slice(eq + 1), c.at);
    const prior = xattrs.findIndex((x) => x.name === name);
    if (prior >= 0) xattrs.splice(prior, 1);
    xattrs.push({ name, value });
  }
  // mkcomposefs caps the xattr text of one line (its duplicate check is quadratic).
  if (text > 0xffff) fail(c, `xattrs take ${text} bytes of text, more than 65535`);
  return xattrs;
}

/** Placeholder for a hardlink name until its target is known (never left in a returned tree). */
const RESERVED: TreeNode = { type: "fifo", perm: 0, uid: 0, gid: 0, mtimeSec: 0, mtimeNsec: 0, xattrs: [] };

function makeNode(type: number, meta: NodeMeta, f: string[], c: Cursor): TreeNode {
  switch (type) {
    case 0o040000:
      return { ...meta, type: "dir", children: new Map() };
    case 0o100000: {
      const size = parseSize(f[1] as string, c);
      const file = meta as FileNode;
      file.type = "file";
      file.size = size;
      const content = f[9] as string;
      if (content !== "-") {
        const bytes = unescapeBytes(content, c.at);
        if (bytes.length > 0) {
          if (bytes.length !== size) fail(c, `inline content is ${bytes.length} bytes, size says ${size}`);
          file.content = bytes;
        }
      }
      const digest = f[10] as string;
      if (digest !== "-") {
        if (digest.length !== 64) fail(c, `bad digest ${JSON.stringify(digest)}`);
        try {
          file.digest = fromHex(digest);
        } catch {
          fail(c, `bad digest ${JSON.stringify(digest)}`);
        }
      }
      const payload = unescapeOptional(f[8] as string, c.at);
      if (payload) file.redirect = payload;
      return file;
    }
    case 0o120000: {
      const target = unescapeOptional(f[8] as string, c.at);
      if (!target) return fail(c, "symlink without target");
      return { ...meta, type: "symlink", target };
    }
    case 0o020000: {
      const r = uint(f[6] as string, "rdev", c);
      return r === 0 ? { ...meta, type: "whiteout" } : { ...meta, type: "chardev", rdev: r };
    }
    case 0o060000:
      return { ...meta, type: "blockdev", rdev: uint(f[6] as string, "rdev", c) };
    case 0o010000:
      return { ...meta, type: "fifo" };
    case 0o140000:
      return { ...meta, type: "socket" };
    default:
      return fail(c, `unknown file type in mode 0${type.toString(8)}`);
  }
}

function parseSize(s: string, c: Cursor): FileSize {
  if (SMALL_UINT.test(s)) return Number(s);
  const v = BIG_UINT.test(s) ? BigInt(s) : -1n;
  if (v < 0n || v > MAX_FILE_SIZE) fail(c, `bad size ${JSON.stringify(s)}`);
  return normalizeSize(v);
}

/** Puts every hardlink name in place; chains (a link to a link) resolve in as many rounds as they are long. */
function resolveLinks(root: DirNode, pending: PendingLink[]): void {
  let left = pending;
  while (left.length > 0) {
    const next: PendingLink[] = [];
    for (const p of left) {
      const [target, dir] = lookup(root, p.target);
      if (target === RESERVED) next.push(p);
      else if (!target)
        throw new ComposefsFormatError(p.at, `no target at ${p.target} for hardlink ${p.path}`);
      else if (target.type === "dir")
        throw new ComposefsFormatError(p.at, `hardlink ${p.path} to a directory`);
      else {
        // Not yet known: the name it was found under is its defining line.
        if (!ORIGINAL_DIR.has(target)) ORIGINAL_DIR.set(target, dir as DirNode);
        p.dir.children.set(p.name, target);
      }
    }
    if (next.length === left.length) {
      const p = next[0] as PendingLink;
      throw new ComposefsFormatError(p.at, `self-referential hardlink ${p.path} -> ${p.target}`);
    }
    left = next;
  }
}

/** The node at `path` and its directory. */
function lookup(root: DirNode, path: string): [TreeNode | undefined, DirNode | undefined] {
  let n: TreeNode = root;
  let parent: DirNode | undefined;
  for (const part of path.split("/")) {
    if (part === "") continue;
    if (n.type !== "dir") return [undefined, undefined];
    const c: TreeNode | undefined = n.children.get(part);
    if (!c) return [undefined, undefined];
    parent = n;
    n = c;
  }
  return [n, parent];
}

function normalizePath(p: string, c: Cursor): string {
  if (p.charCodeAt(0) !== 0x2f) fail(c, `path ${JSON.stringify(p)} is not absolute`);
  if (!ODD_PATH.test(p)) return p;
  const parts = p.split("/").filter((x) => x !== "");
  for (const part of parts) {
    if (part === "." || part === ".." || part.includes("\0"))
      fail(c, `bad path component in ${JSON.stringify(p)}`);
  }
  return `/${parts.join("/")}`;
}
