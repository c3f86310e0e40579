/**
 * The kernel as oracle: mount the image as EROFS, overlay it over the object store with metacopy and
 * redirect_dir, and check every path. Needs root; without it the test fails and says why.
 */
import { describe, expect, test } from "bun:test";
import {
  closeSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  readSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import {
  createRng,
  randomTree,
  requireRoot,
  tempDir,
  withComposefsMount,
  withMount,
} from "../test/harness.ts";
import { writeImage } from "./erofs-writer.ts";
import { fsVerityDigest } from "./fsverity.ts";
import { readXattrs } from "./libc-ffi.ts";
import type { DirNode, FileNode, TreeNode } from "./tree.ts";
import { createDir, digestToPath, walkTree } from "./tree.ts";

const enc = (p: string): Buffer => Buffer.from(p, "latin1");
const MARKERS = new Set([
  "user.overlay.opaque",
  "user.overlay.whiteouts",
  "trusted.overlay.opaque",
  "trusted.overlay.whiteouts",
]);

/** Gives every external file real content in `objects` (by digest); huge files become sparse objects. */
function materialize(tree: DirNode, objects: string, seed: number): Map<FileNode, Uint8Array | number> {
  const rng = createRng(seed);
  const contents = new Map<FileNode, Uint8Array | number>();
  for (const [, n] of walkTree(tree)) {
    if (n.type !== "file" || contents.has(n)) continue;
    if (n.content) {
      contents.set(n, n.content);
      continue;
    }
    if (n.size === 0) continue;
    let digest: Uint8Array;
    if (n.size > 4 << 20) {
      digest = rng.bytes(32); // not checked without verity=require; the object is a sparse file
      contents.set(n, Number(n.size));
    } else {
      const data = rng.bytes(Number(n.size));
      digest = fsVerityDigest(data);
      contents.set(n, data);
    }
    n.digest = digest;
    n.redirect = digestToPath(digest);
    mkdirSync(join(objects, n.redirect.slice(0, 2)), { recursive: true });
    const c = contents.get(n);
    if (typeof c === "number") {
      const fd = openSync(join(objects, n.redirect), "w");
      writeSync(fd, Buffer.from("end"), 0, 3, c - 3);
      closeSync(fd);
    } else writeFileSync(join(objects, n.redirect), c as Uint8Array);
  }
  return contents;
}

function checkMounted(tree: DirNode, mnt: string, contents: Map<FileNode, Uint8Array | number>): string[] {
  const problems: string[] = [];
  const check = (path: string, n: TreeNode): void => {
    const p = enc(mnt + path);
    if (n.type === "whiteout") {
      // Escaped whiteout: through this overlay it is an empty file carrying trusted.overlay.whiteout, which
      // an overlay stacked on top (xwhiteouts) interprets as a whiteout.
      const st = lstatSync(p);
      const names = readXattrs(mnt + path).map((x) => x.name);
      if (
        !st.isFile() ||
        st.size !== 0 ||
        !names.includes("trusted.overlay.whiteout") ||
        (st.mode & 0o7777) !== n.perm
      ) {
        problems.push(
          `${path}: whiteout seen as mode ${st.mode.toString(8)} size ${st.size} xattrs ${names.join(",")}`,
        );
      }
      return;
    }
    const st = lstatSync(p, { bigint: true });
    const want = {
      perm: n.perm,
      uid: n.uid,
      gid: n.gid,
      mtime: BigInt(n.mtimeSec) * 1_000_000_000n + BigInt(n.mtimeNsec),
    };
    const got = {
      perm: Number(st.mode) & 0o7777,
      uid: Number(st.uid),
      gid: Number(st.gid),
      mtime: st.mtimeNs,
    };
    if (n.type === "symlink") want.perm = got.perm; // symlink permission bits are not meaningful
    if (
      JSON.stringify(got, (_k, v) => (typeof v === "bigint" ? v.toString() : v)) !==
      JSON.stringify(want, (_k, v) => (typeof v === "bigint" ? v.toString() : v))
    ) {
      problems.push(
        `${path}: meta ${JSON.stringify({ ...got, mtime: String(got.mtime) })} != ${JSON.stringify({ ...want, mtime: String(want.mtime) })}`,
      );
    }
    // Linux lists but never returns user.* xattrs of symlinks, devices, FIFOs and sockets (xattr_permission).
    const userOk = n.type === "dir" || n.type === "file";
    const keep = (name: string): boolean => userOk || !name.startsWith("user.");
    const xs = readXattrs(mnt + path, keep).filter((x) => !(n.type === "dir" && MARKERS.has(x.name)));
    const fmt = (l: { name: string; value: Uint8Array }[]): string =>
      l
        .filter((x) => keep(x.name))
        .map((x) => `${x.name}=${Buffer.from(x.value).toString("hex")}`)
        .sort()
        .join(",");
    if (fmt(xs) !== fmt(n.xattrs)) problems.push(`${path}: xattrs ${fmt(xs)} != ${fmt(n.xattrs)}`);
    if (n.type === "file") {
      if (Number(st.size) !== n.size) problems.push(`${path}: size ${st.size} != ${n.size}`);
      const c = contents.get(n);
      if (typeof c === "number") {
        const fd = openSync(p, "r");
        const tail = Buffer.alloc(3);
        readSync(fd, tail, 0, 3, c - 3);
        closeSync(fd);
        if (tail.toString() !== "end") problems.push(`${path}: sparse tail ${tail.toString("hex")}`);
      } else if (c && Buffer.compare(readFileSync(p), Buffer.from(c)) !== 0)
        problems.push(`${path}: content differs`);
    } else if (n.type === "symlink") {
      const t = readlinkSync(p, { encoding: "buffer" }).toString("latin1");
      if (t !== n.target) problems.push(`${path}: symlink target differs`);
    } else if (n.type === "chardev" || n.type === "blockdev") {
      if (Number(st.rdev) !== n.rdev) problems.push(`${path}: rdev ${st.rdev} != ${n.rdev}`);
    } else if (n.type === "dir") {
      const names = readdirSync(p, { encoding: "buffer" })
        .map((b) => b.toString("latin1"))
        .sort();
      const want2 = [...n.children.keys()].sort();
      if (JSON.stringify(names) !== JSON.stringify(want2))
        problems.push(`${path}: entries ${names.length} != ${want2.length}`);
    }
  };
  check("", tree);
  for (const [path, n] of walkTree(tree)) check(path, n);
  return problems;
}

describe("kernel erofs + overlay mount", () => {
  test("an escaped whiteout hides the lower file when the composefs mount is stacked under another overlay", async () => {
    requireRoot("kernel mount check");
    using dir = tempDir();
    const tree = createDir({ mtimeSec: 1 });
    tree.children.set("gone", {
      type: "whiteout",
      perm: 0o644,
      uid: 0,
      gid: 0,
      mtimeSec: 1,
      mtimeNsec: 0,
      xattrs: [],
    });
    tree.children.set("kept", {
      type: "file",
      perm: 0o644,
      uid: 0,
      gid: 0,
      mtimeSec: 1,
      mtimeNsec: 0,
      xattrs: [],
      size: 2,
      content: Buffer.from("hi"),
    });
    const img = join(dir.path, "img.cfs");
    writeFileSync(img, writeImage(tree).image);
    const [objects, meta, mnt, base, top] = ["objects", "meta", "mnt", "base", "top"].map((d) =>
      join(dir.path, d),
    ) as [string, string, string, string, string];
    for (const d of [objects, meta, mnt, base, top]) mkdirSync(d);
    writeFileSync(join(base, "gone"), "base file");
    writeFileSync(join(base, "other"), "base other");
    const names = await withComposefsMount(img, objects, meta, mnt, () =>
      withMount(["-t", "overlay", "overlay", "-o", `ro,lowerdir=${mnt}:${base}`], top, () =>
        readdirSync(top).sort(),
      ),
    );
    expect(names).toEqual(["kept", "other"]);
  });

  test.each([301, 302, 303, 304])(
    "random tree %d reads back byte for byte with matching xattrs",
    async (seed) => {
      requireRoot("kernel mount check");
      using dir = tempDir();
      const objects = join(dir.path, "objects");
      mkdirSync(objects);
      const tree = randomTree(seed, {
        size: 120,
        wide: seed === 301,
        maxFileSize: seed === 302 ? 2 ** 40 : 200_000,
      });
      const contents = materialize(tree, objects, seed);
      const img = join(dir.path, "img.cfs");
      writeFileSync(img, writeImage(tree).image);
      const meta = join(dir.path, "meta");
      const mnt = join(dir.path, "mnt");
      mkdirSync(meta);
      mkdirSync(mnt);
      const problems = await withComposefsMount(img, objects, meta, mnt, () =>
        checkMounted(tree, mnt, contents),
      );
      expect(problems).toEqual([]);
    },
    30_000,
  );
});
