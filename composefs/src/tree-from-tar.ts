/**
 * Builds a tree from a tar archive (ustar, GNU long names, PAX with SCHILY.xattr.*, nanosecond mtimes),
 * storing file contents by fs-verity digest. OCI layer whiteouts (`.wh.NAME`, `.wh..wh..opq`) become
 * whiteout nodes and an opaque directory xattr. Untrusted input: errors name the byte offset.
 */

import { RECOMMENDED_INLINE_MAX } from "./erofs-format.ts";
import { ComposefsFormatError, isComposefsFormatError, type ParseResult } from "./errors.ts";
import { createFsVerityHasher, type FsVerityHasher } from "./fsverity.ts";
import type { ObjectStore, ObjectWriter } from "./object-store.ts";
import type { DirNode, NodeMeta, TreeNode, Xattr } from "./tree.ts";
import { bytesToName, createDir, digestToPath } from "./tree.ts";

/** Options for {@link treeFromTar}. */
export interface TreeFromTarOptions {
  store?: ObjectStore;
  /** Files up to this size are stored inline (default 64). */
  inlineMax?: number;
  /** Translate OCI whiteout files (default true). */
  ociWhiteouts?: boolean;
}

const BLOCK = 512;

function cstring(b: Uint8Array): string {
  const z = b.indexOf(0);
  return bytesToName(z < 0 ? b : b.subarray(0, z));
}

/** A numeric header field: octal, or base-256 (first byte 0x80; 0xff: negative, for `signed` fields). */
function num(b: Uint8Array, at: number, what: string, signed = false): number {
  if (((b[0] ?? 0) & 0x80) !== 0) {
    let v = 0n;
    for (let i = 0; i < b.length; i++)
      v = (v << 8n) | BigInt(i === 0 ? (b[0] as number) & 0x7f : (b[i] as number));
    if (signed && b[0] === 0xff) v -= 1n << BigInt(8 * b.length - 1);
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER) || (!signed && v < 0n))
      throw new ComposefsFormatError(at, `${what} out of range`);
    return Number(v);
  }
  const s = cstring(b).trim();
  if (s === "") return 0;
  if (!/^[0-7]+$/.test(s)) throw new ComposefsFormatError(at, `${what} is not octal: ${JSON.stringify(s)}`);
  return Number.parseInt(s, 8);
}

/** A PAX time (`[-]seconds[.fraction]`) as seconds and nanoseconds; `-1.5` is 2 s minus 0.5 s before 1970. */
function paxTime(s: string, at: number): [number, number] {
  const m = /^(-?)(\d{1,16})(?:\.(\d*))?$/.exec(s);
  if (!m) throw new ComposefsFormatError(at, `bad PAX mtime ${JSON.stringify(s)}`);
  const sec = Number(m[2]);
  const nsec = Number(`${m[3] ?? ""}000000000`.slice(0, 9));
  if (m[1] !== "-") return [sec, nsec];
  return nsec === 0 ? [-sec, 0] : [-sec - 1, 1_000_000_000 - nsec];
}

/** GNU tar escapes `=` and `%` in SCHILY.xattr keywords (`user.a%3Db` is `user.a=b`). */
function decodeXattrKeyword(k: string): string {
  return k.includes("%") ? k.replace(/%(3D|25)/g, (_, c: string) => (c === "3D" ? "=" : "%")) : k;
}

function makedev(major: number, minor: number): number {
  return ((minor & 0xff) | ((major & 0xfff) << 8) | ((minor & ~0xff) << 12)) >>> 0;
}

/** Incremental tar reader: feed chunks as they arrive, then `finish()` for the tree. */
export interface TarTreeBuilder {
  push(chunk: Uint8Array): void;
  /** The tree; throws ComposefsFormatError if the archive ended inside an entry. */
  finish(): DirNode;
}

/** Parses a tar archive held in memory into a tree. */
export function treeFromTar(tar: Uint8Array, opts: TreeFromTarOptions = {}): ParseResult<DirNode> {
  try {
    const b = createTarTreeBuilder(opts);
    b.push(tar);
    return { ok: true, value: b.finish() };
  } catch (e) {
    if (isComposefsFormatError(e)) return { ok: false, error: e };
    throw e;
  }
}

/**
 * Parses a tar stream (e.g. `Bun.file(p).stream()` or a decompressed layer) into a tree without holding the
 * archive in memory: file contents are hashed and written to the object store as they stream past.
 */
export async function treeFromTarStream(
  stream: AsyncIterable<Uint8Array>,
  opts: TreeFromTarOptions = {},
): Promise<ParseResult<DirNode>> {
  try {
    const b = createTarTreeBuilder(opts);
    for await (const chunk of stream) b.push(chunk);
    return { ok: true, value: b.finish() };
  } catch (e) {
    if (isComposefsFormatError(e)) return { ok: false, error: e };
    throw e;
  }
}

/** Metadata entries (PAX headers, GNU long names) larger than this are rejected: they are held in memory. */
const MAX_META_ENTRY = 1 << 20;

type State =
  | { k: "header" }
  | { k: "collect"; buf: Uint8Array; fill: number; pad: number; done: (data: Uint8Array) => void }
  | {
      k: "stream";
      remaining: number;
      pad: number;
      hasher: FsVerityHasher;
      writer: ObjectWriter | undefined;
      done: (digest: Uint8Array) => void;
    }
  | { k: "skip"; remaining: number }
  | { k: "end" };

/** Creates an incremental tar parser building a tree (see {@link treeFromTarStream}). */
export function createTarTreeBuilder(opts: TreeFromTarOptions = {}): TarTreeBuilder {
  const inlineMax = opts.inlineMax ?? RECOMMENDED_INLINE_MAX;
  const oci = opts.ociWhiteouts ?? true;
  const root = createDir();
  const byPath = new Map<string, TreeNode>([["", root]]);
  let pax: Map<string, Uint8Array> = new Map();
  let longName: string | undefined;
  let longLink: string | undefined;
  let state: State = { k: "header" };
  const pending: Uint8Array[] = [];
  let pendingLen = 0;
  let pos = 0; // archive offset of the first pending byte

  const takeSome = (max: number): Uint8Array => {
    const head = pending[0] as Uint8Array;
    const n = Math.min(max, head.length);
    const out = head.subarray(0, n);
    if (n === head.length) pending.shift();
    else pending[0] = head.subarray(n);
    pendingLen -= n;
    pos += n;
    return out;
  };
  const takeExact = (n: number): Uint8Array => {
    const head = pending[0] as Uint8Array;
    if (head.length >= n) return takeSome(n);
    const out = new Uint8Array(n);
    for (let fill = 0; fill < n; ) {
      const part = takeSome(n - fill);
      out.set(part, fill);
      fill += part.length;
    }
    return out;
  };

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
    if (p.includes("\0") || parts.some((x) => x.length > 255)) {
      throw new ComposefsFormatError(at, `path ${JSON.stringify(p)} has a NUL or a name over 255 bytes`);
    }
    return parts.join("/");
  };
  const pad = (size: number): number => Math.ceil(size / BLOCK) * BLOCK - size;
  const collect = (
    size: number,
    at: number,
    done: (data: Uint8Array) => void,
    limit = MAX_META_ENTRY,
  ): void => {
    if (size > limit)
      throw new ComposefsFormatError(at + 124, `metadata entry of ${size} bytes exceeds ${limit}`);
    state = { k: "collect", buf: new Uint8Array(size), fill: 0, pad: pad(size), done };
  };

  const onHeader = (h: Uint8Array, at: number): void => {
    if (h.every((b) => b === 0)) {
      state = { k: "end" };
      return;
    }
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : (h[i] as number);
    if (num(h.subarray(148, 156), at + 148, "checksum") !== sum)
      throw new ComposefsFormatError(at + 148, "header checksum mismatch");
    const type = String.fromCharCode(h[156] as number);
    const paxSize = pax.get("size");
    const size = paxSize ? Number(bytesToName(paxSize)) : num(h.subarray(124, 136), at + 124, "size");
    if (!Number.isSafeInteger(size) || size < 0) throw new ComposefsFormatError(at + 124, "bad size");

    if (type === "x" || type === "g") {
      collect(size, at, (data) => {
        if (type === "x") pax = parsePax(data, at + BLOCK);
      });
      return;
    }
    if (type === "L" || type === "K") {
      collect(size, at, (data) => {
        if (type === "L") longName = cstring(data);
        else longLink = cstring(data);
      });
      return;
    }
    const ustar = bytesToName(h.subarray(257, 262)) === "ustar";
    const prefix = ustar ? cstring(h.subarray(345, 500)) : "";
    const rawName = pax.has("path")
      ? bytesToName(pax.get("path") as Uint8Array)
      : (longName ?? (prefix ? `${prefix}/` : "") + cstring(h.subarray(0, 100)));
    const link = pax.has("linkpath")
      ? bytesToName(pax.get("linkpath") as Uint8Array)
      : (longLink ?? cstring(h.subarray(157, 257)));
    const xattrs: Xattr[] = [];
    for (const [k, v] of pax)
      if (k.startsWith("SCHILY.xattr.")) xattrs.push({ name: decodeXattrKeyword(k.slice(13)), value: v });
    xattrs.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const [mtimeSec, mtimeNsec] = pax.has("mtime")
      ? paxTime(bytesToName(pax.get("mtime") as Uint8Array), at)
      : [num(h.subarray(136, 148), at + 136, "mtime", true), 0];
    const meta: NodeMeta = {
      perm: num(h.subarray(100, 108), at + 100, "mode") & 0o7777,
      uid: pax.has("uid")
        ? Number(bytesToName(pax.get("uid") as Uint8Array))
        : num(h.subarray(108, 116), at + 108, "uid"),
      gid: pax.has("gid")
        ? Number(bytesToName(pax.get("gid") as Uint8Array))
        : num(h.subarray(116, 124), at + 116, "gid"),
      mtimeSec,
      mtimeNsec,
      xattrs,
    };
    pax = new Map();
    longName = undefined;
    longLink = undefined;

    const path = clean(rawName, at);
    const slash = path.lastIndexOf("/");
    const parentPath = slash < 0 ? "" : path.slice(0, slash);
    const name = path.slice(slash + 1);
    const isFile = type === "0" || type === "\0" || type === "7";
    // Whatever the type, the entry's data (normally none but for files) must be consumed.
    const skipData = (): void => {
      state = { k: "skip", remaining: size + pad(size) };
    };
    if (path === "") {
      if (type !== "5") throw new ComposefsFormatError(at, "archive root entry is not a directory");
      Object.assign(root, meta);
      skipData();
      return;
    }
    const parent = dirFor(parentPath, at);
    const place = (node: TreeNode): void => {
      parent.children.set(name, node);
      byPath.set(path, node);
    };
    if (oci && name === ".wh..wh..opq") {
      parent.xattrs = [
        ...parent.xattrs.filter((x) => x.name !== "trusted.overlay.opaque"),
        { name: "trusted.overlay.opaque", value: Buffer.from("y") },
      ];
      skipData();
      return;
    }
    if (oci && name.startsWith(".wh.")) {
      const target = name.slice(4);
      const w: TreeNode = { ...meta, type: "whiteout" };
      parent.children.set(target, w);
      byPath.set(parentPath ? `${parentPath}/${target}` : target, w);
      skipData();
      return;
    }
    if (isFile) {
      if (size === 0) {
        place({ ...meta, type: "file", size: 0 });
        skipData();
      } else if (size <= inlineMax) {
        collect(size, at, (data) => place({ ...meta, type: "file", size, content: data }), inlineMax);
      } else {
        state = {
          k: "stream",
          remaining: size,
          pad: pad(size),
          hasher: createFsVerityHasher(),
          writer: opts.store?.beginObject(),
          done: (digest) => place({ ...meta, type: "file", size, digest, redirect: digestToPath(digest) }),
        };
      }
      return;
    }
    skipData();
    switch (type) {
      case "1": {
        const target = byPath.get(clean(link, at + 157));
        if (!target || target.type === "dir")
          throw new ComposefsFormatError(
            at + 157,
            `hardlink target ${JSON.stringify(link)} is missing or a directory`,
          );
        place(target);
        return;
      }
      case "2":
        if (link === "") throw new ComposefsFormatError(at + 157, "symlink with empty target");
        place({ ...meta, type: "symlink", target: link });
        return;
      case "3":
      case "4": {
        const rdev = makedev(
          num(h.subarray(329, 337), at + 329, "devmajor"),
          num(h.subarray(337, 345), at + 337, "devminor"),
        );
        place(
          type === "3"
            ? rdev === 0
              ? { ...meta, type: "whiteout" }
              : { ...meta, type: "chardev", rdev }
            : { ...meta, type: "blockdev", rdev },
        );
        return;
      }
      case "5": {
        const existing = byPath.get(path);
        if (existing?.type === "dir") Object.assign(existing, meta);
        else place(createDir(meta));
        return;
      }
      case "6":
        place({ ...meta, type: "fifo" });
        return;
      default:
        throw new ComposefsFormatError(at + 156, `unsupported tar entry type ${JSON.stringify(type)}`);
    }
  };

  const drain = (): void => {
    for (;;) {
      switch (state.k) {
        case "end":
          pos += pendingLen;
          pending.length = 0;
          pendingLen = 0;
          return;
        case "header": {
          if (pendingLen < BLOCK) return;
          const at = pos;
          onHeader(takeExact(BLOCK), at);
          break;
        }
        case "collect": {
          const s = state;
          if (s.fill < s.buf.length) {
            if (pendingLen === 0) return;
            const part = takeSome(s.buf.length - s.fill);
            s.buf.set(part, s.fill);
            s.fill += part.length;
            break;
          }
          state = { k: "skip", remaining: s.pad };
          s.done(s.buf);
          break;
        }
        case "stream": {
          const s = state;
          if (s.remaining > 0) {
            if (pendingLen === 0) return;
            const part = takeSome(s.remaining);
            s.hasher.update(part);
            s.writer?.write(part);
            s.remaining -= part.length;
            break;
          }
          const digest = s.hasher.digest();
          s.writer?.commit(digest);
          state = { k: "skip", remaining: s.pad };
          s.done(digest);
          break;
        }
        case "skip": {
          if (state.remaining === 0) {
            state = { k: "header" };
            break;
          }
          if (pendingLen === 0) return;
          state.remaining -= takeSome(state.remaining).length;
          break;
        }
      }
    }
  };

  return {
    push(chunk) {
      if (chunk.length === 0) return;
      pending.push(chunk);
      pendingLen += chunk.length;
      try {
        drain();
      } catch (e) {
        if (state.k === "stream") state.writer?.abort();
        throw e;
      }
    },
    finish() {
      if (state.k === "stream") state.writer?.abort();
      if (state.k === "collect" || state.k === "stream" || (state.k === "skip" && state.remaining > 0)) {
        throw new ComposefsFormatError(pos, "archive ends inside an entry's data");
      }
      if (state.k === "header" && pendingLen > 0)
        throw new ComposefsFormatError(pos, "archive ends inside a header block");
      return root;
    },
  };
}

function parsePax(data: Uint8Array, at: number): Map<string, Uint8Array> {
  const out = new Map<string, Uint8Array>();
  let p = 0;
  while (p < data.length) {
    const sp = data.indexOf(0x20, p);
    if (sp < 0) throw new ComposefsFormatError(at + p, "bad PAX record");
    const len = Number(bytesToName(data.subarray(p, sp)));
    if (!Number.isSafeInteger(len) || len <= sp - p || p + len > data.length)
      throw new ComposefsFormatError(at + p, "bad PAX record length");
    const rec = data.subarray(sp + 1, p + len - 1);
    const eq = rec.indexOf(0x3d);
    if (eq < 0) throw new ComposefsFormatError(at + p, "PAX record without '='");
    // Keys and paths are UTF-8 in PAX; keep byte strings (latin1) so names round-trip byte for byte.
    out.set(bytesToName(rec.subarray(0, eq)), rec.slice(eq + 1));
    p += len;
  }
  return out;
}
