/**
 * Builds a tree from a tar archive (ustar, GNU long names, PAX with SCHILY.xattr.*, nanosecond mtimes),
 * storing file contents by fs-verity digest. OCI layer whiteouts (`.wh.NAME`, `.wh..wh..opq`) become
 * whiteout nodes and an opaque directory xattr. Untrusted input: errors name the byte offset.
 */

import { RECOMMENDED_INLINE_MAX } from "./erofs-format.ts";
import { ComposefsFormatError, isComposefsFormatError, type ParseResult } from "./errors.ts";
import { fsVerityDigest } from "./fsverity.ts";
import type { ObjectStore } from "./object-store.ts";
import type { DirNode, NodeMeta, TreeNode, Xattr } from "./tree.ts";
import { createDir, digestToPath } from "./tree.ts";

/** Options for {@link treeFromTar}. */
export interface TreeFromTarOptions {
  store?: ObjectStore;
  /** Files up to this size are stored inline (default 64). */
  inlineMax?: number;
  /** Translate OCI whiteout files (default true). */
  ociWhiteouts?: boolean;
}

const BLOCK = 512;
const latin1 = (b: Uint8Array): string =>
  Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("latin1");

function cstring(b: Uint8Array): string {
  const z = b.indexOf(0);
  return latin1(z < 0 ? b : b.subarray(0, z));
}

function num(b: Uint8Array, at: number, what: string): number {
  if (((b[0] ?? 0) & 0x80) !== 0) {
    let v = 0n;
    for (let i = 0; i < b.length; i++)
      v = (v << 8n) | BigInt(i === 0 ? (b[0] as number) & 0x7f : (b[i] as number));
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new ComposefsFormatError(at, `${what} too large`);
    return Number(v);
  }
  const s = cstring(b).trim();
  if (s === "") return 0;
  if (!/^[0-7]+$/.test(s)) throw new ComposefsFormatError(at, `${what} is not octal: ${JSON.stringify(s)}`);
  return Number.parseInt(s, 8);
}

function makedev(major: number, minor: number): number {
  return ((minor & 0xff) | ((major & 0xfff) << 8) | ((minor & ~0xff) << 12)) >>> 0;
}

/** Parses a tar archive held in memory into a tree. */
export function treeFromTar(tar: Uint8Array, opts: TreeFromTarOptions = {}): ParseResult<DirNode> {
  try {
    return { ok: true, value: parseTar(tar, opts) };
  } catch (e) {
    if (isComposefsFormatError(e)) return { ok: false, error: e };
    throw e;
  }
}

function parseTar(tar: Uint8Array, opts: TreeFromTarOptions): DirNode {
  const inlineMax = opts.inlineMax ?? RECOMMENDED_INLINE_MAX;
  const oci = opts.ociWhiteouts ?? true;
  const root = createDir();
  const byPath = new Map<string, TreeNode>([["", root]]);
  let pax: Map<string, Uint8Array> = new Map();
  let longName: string | undefined;
  let longLink: string | undefined;
  let pos = 0;

  const dirFor = (path: string, at: number): DirNode => {
    if (path === "") return root;
    const existing = byPath.get(path);
    if (existing) {
      if (existing.type !== "dir")
        throw new ComposefsFormatError(at, `${JSON.stringify(path)} is used as a directory but is not one`);
      return existing;
    }
    const slash = path.lastIndexOf("/");
    const parent = dirFor(slash < 0 ? "" : path.slice(0, slash), at);
    const d = createDir();
    parent.children.set(path.slice(slash + 1), d);
    byPath.set(path, d);
    return d;
  };
  const clean = (p: string, at: number): string => {
    const parts = p.split("/").filter((x) => x !== "" && x !== ".");
    if (parts.includes("..")) throw new ComposefsFormatError(at, `path ${JSON.stringify(p)} contains ".."`);
    return parts.join("/");
  };

  while (pos + BLOCK <= tar.length) {
    const h = tar.subarray(pos, pos + BLOCK);
    if (h.every((b) => b === 0)) break;
    const at = pos;
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : (h[i] as number);
    if (num(h.subarray(148, 156), at + 148, "checksum") !== sum)
      throw new ComposefsFormatError(at + 148, "header checksum mismatch");
    const type = String.fromCharCode(h[156] as number);
    const paxSize = pax.get("size");
    const size = paxSize ? Number(latin1(paxSize)) : num(h.subarray(124, 136), at + 124, "size");
    if (!Number.isSafeInteger(size) || size < 0) throw new ComposefsFormatError(at + 124, "bad size");
    const dataAt = pos + BLOCK;
    if (dataAt + size > tar.length)
      throw new ComposefsFormatError(at + 124, `entry data (${size} bytes) runs past the end of the archive`);
    const data = tar.subarray(dataAt, dataAt + size);
    pos = dataAt + Math.ceil(size / BLOCK) * BLOCK;

    if (type === "x" || type === "g") {
      if (type === "x") pax = parsePax(data, dataAt);
      continue;
    }
    if (type === "L") {
      longName = cstring(data);
      continue;
    }
    if (type === "K") {
      longLink = cstring(data);
      continue;
    }
    const ustar = latin1(h.subarray(257, 262)) === "ustar";
    const prefix = ustar ? cstring(h.subarray(345, 500)) : "";
    const rawName = pax.has("path")
      ? latin1(pax.get("path") as Uint8Array)
      : (longName ?? (prefix ? `${prefix}/` : "") + cstring(h.subarray(0, 100)));
    const link = pax.has("linkpath")
      ? latin1(pax.get("linkpath") as Uint8Array)
      : (longLink ?? cstring(h.subarray(157, 257)));
    const xattrs: Xattr[] = [];
    for (const [k, v] of pax) if (k.startsWith("SCHILY.xattr.")) xattrs.push({ name: k.slice(13), value: v });
    xattrs.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const mtimeStr = pax.has("mtime")
      ? latin1(pax.get("mtime") as Uint8Array)
      : String(num(h.subarray(136, 148), at + 136, "mtime"));
    const [secS = "0", fracS = ""] = mtimeStr.split(".");
    const meta: NodeMeta = {
      perm: num(h.subarray(100, 108), at + 100, "mode") & 0o7777,
      uid: pax.has("uid")
        ? Number(latin1(pax.get("uid") as Uint8Array))
        : num(h.subarray(108, 116), at + 108, "uid"),
      gid: pax.has("gid")
        ? Number(latin1(pax.get("gid") as Uint8Array))
        : num(h.subarray(116, 124), at + 116, "gid"),
      mtimeSec: Math.max(0, Number(secS)),
      mtimeNsec: Number(`${fracS}000000000`.slice(0, 9)),
      xattrs,
    };
    pax = new Map();
    longName = undefined;
    longLink = undefined;

    const path = clean(rawName, at);
    const slash = path.lastIndexOf("/");
    const parentPath = slash < 0 ? "" : path.slice(0, slash);
    const name = path.slice(slash + 1);
    if (path === "") {
      if (type !== "5") throw new ComposefsFormatError(at, "archive root entry is not a directory");
      Object.assign(root, meta);
      continue;
    }
    const parent = dirFor(parentPath, at);
    if (oci && name === ".wh..wh..opq") {
      parent.xattrs = [
        ...parent.xattrs.filter((x) => x.name !== "trusted.overlay.opaque"),
        { name: "trusted.overlay.opaque", value: Buffer.from("y") },
      ];
      continue;
    }
    if (oci && name.startsWith(".wh.")) {
      const target = name.slice(4);
      parent.children.set(target, { ...meta, type: "whiteout" });
      byPath.set(parentPath ? `${parentPath}/${target}` : target, parent.children.get(target) as TreeNode);
      continue;
    }
    let node: TreeNode;
    switch (type) {
      case "0":
      case "\0":
      case "7": {
        if (size === 0) node = { ...meta, type: "file", size: 0 };
        else if (size <= inlineMax) node = { ...meta, type: "file", size, content: data.slice() };
        else {
          const digest = fsVerityDigest(data);
          opts.store?.addBytes(digest, data);
          node = { ...meta, type: "file", size, digest, redirect: digestToPath(digest) };
        }
        break;
      }
      case "1": {
        const target = byPath.get(clean(link, at + 157));
        if (!target || target.type === "dir")
          throw new ComposefsFormatError(
            at + 157,
            `hardlink target ${JSON.stringify(link)} is missing or a directory`,
          );
        node = target;
        break;
      }
      case "2":
        if (link === "") throw new ComposefsFormatError(at + 157, "symlink with empty target");
        node = { ...meta, type: "symlink", target: link };
        break;
      case "3":
      case "4": {
        const rdev = makedev(
          num(h.subarray(329, 337), at + 329, "devmajor"),
          num(h.subarray(337, 345), at + 337, "devminor"),
        );
        node =
          type === "3"
            ? rdev === 0
              ? { ...meta, type: "whiteout" }
              : { ...meta, type: "chardev", rdev }
            : { ...meta, type: "blockdev", rdev };
        break;
      }
      case "5": {
        const existing = byPath.get(path);
        if (existing?.type === "dir") {
          Object.assign(existing, meta);
          continue;
        }
        node = createDir(meta);
        break;
      }
      case "6":
        node = { ...meta, type: "fifo" };
        break;
      default:
        throw new ComposefsFormatError(at + 156, `unsupported tar entry type ${JSON.stringify(type)}`);
    }
    parent.children.set(name, node);
    byPath.set(path, node);
  }
  return root;
}

function parsePax(data: Uint8Array, at: number): Map<string, Uint8Array> {
  const out = new Map<string, Uint8Array>();
  let p = 0;
  while (p < data.length) {
    const sp = data.indexOf(0x20, p);
    if (sp < 0) throw new ComposefsFormatError(at + p, "bad PAX record");
    const len = Number(latin1(data.subarray(p, sp)));
    if (!Number.isSafeInteger(len) || len <= sp - p || p + len > data.length)
      throw new ComposefsFormatError(at + p, "bad PAX record length");
    const rec = data.subarray(sp + 1, p + len - 1);
    const eq = rec.indexOf(0x3d);
    if (eq < 0) throw new ComposefsFormatError(at + p, "PAX record without '='");
    // Keys and paths are UTF-8 in PAX; keep byte strings (latin1) so names round-trip byte for byte.
    out.set(latin1(rec.subarray(0, eq)), rec.slice(eq + 1));
    p += len;
  }
  return out;
}
