/**
 * Byte-for-byte equality with containers/composefs 1.0.8 `mkcomposefs`, against the images and digests it
 * made (committed in test/upstream-1.0.8/, see its README): dump files through parseDump + writeImage, the
 * directory of test/upstream-tree.ts through treeFromDirectory, and the inputs it refused.
 */
import { describe, expect, test } from "bun:test";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { exec, tempDir } from "../test/harness.ts";
import { FIXTURES } from "../test/upstream-fixtures.ts";
import { makeUpstreamTree } from "../test/upstream-tree.ts";
import { parseDump, toDump } from "./dump.ts";
import { readImage } from "./erofs-reader.ts";
import { writeImage } from "./erofs-writer.ts";
import { toHex } from "./fsverity.ts";
import type { DirNode } from "./tree.ts";
import { treeFromDirectory } from "./tree-from-directory.ts";

const digests = new Map(
  readFileSync(join(FIXTURES, "digests.txt"), "utf8")
    .trim()
    .split("\n")
    .map((l) => l.split(" ") as [string, string]),
);
const dump = (name: string): DirNode => {
  const r = parseDump(readFileSync(join(FIXTURES, `${name}.dump`), "latin1"));
  if (!r.ok) throw r.error;
  return r.value;
};
const expectUpstream = (name: string, root: DirNode): void => {
  const { image, digest } = writeImage(root);
  const want = readFileSync(join(FIXTURES, `${name}.cfs`));
  // Compare the first differing offset rather than two 40 KiB arrays.
  let at = 0;
  while (at < want.length && at < image.length && want[at] === image[at]) at++;
  expect({ name, length: image.length, firstDifference: at }).toEqual({
    name,
    length: want.length,
    firstDifference: want.length,
  });
  expect({ name, digest: toHex(digest) }).toEqual({ name, digest: digests.get(name) as string });
};

describe("the same image and digest as mkcomposefs 1.0.8", () => {
  const dumps = [...digests.keys()].filter((n) => n !== "dir-hardlinks");

  test(`from dump text: ${dumps.length} fixtures (escapes, hardlink chains, times before 1970, sizes to 2^53, whiteouts, xattrs at the limit, random trees)`, () => {
    expect(dumps.length).toBe(11);
    for (const name of dumps) expectUpstream(name, dump(name));
  });

  test("from a directory with hardlink chains: every name its own inode by default; hardlinks: true keeps them", async () => {
    using dir = tempDir();
    const src = join(dir.path, "src");
    await makeUpstreamTree(src);
    expectUpstream("dir-hardlinks", treeFromDirectory(src));
    const kept = writeImage(treeFromDirectory(src, { hardlinks: true }));
    const r = readImage(kept.image);
    if (!r.ok) throw r.error;
    const upstream = readImage(readFileSync(join(FIXTURES, "dir-hardlinks.cfs")));
    if (!upstream.ok) throw upstream.error;
    // 3 names of a/external-65, 2 of c/x, 2 of a/inline-64: 4 inodes fewer than upstream.
    expect(upstream.value.inodes - r.value.inodes).toBe(4);
    const c = r.value.root.children.get("c") as DirNode;
    expect(c.children.get("x")).toBe(c.children.get("y"));
    expect(c.children.get("x")?.nlink).toBe(2);
  });

  test("an inode with more xattr bytes than mkcomposefs allows is refused, naming the path and the size", () => {
    expect(readFileSync(join(FIXTURES, "refused.txt"), "utf8")).toContain("xattrs-over-limit:");
    expect(() => writeImage(dump("xattrs-over-limit"))).toThrow(
      "composefs writer: /f: xattrs take 32768 bytes, more than the 32767 mkcomposefs allows per inode",
    );
  });

  test("dump text written as composefs-info dump writes it: empty, '-' and escaped values round-trip exactly", () => {
    for (const name of ["escapes", "times-sizes"]) {
      const text = readFileSync(join(FIXTURES, `${name}.dump`), "latin1").replace(
        /^(\/\S*) 4096 40755/gm,
        "$1 0 40755",
      );
      const r = parseDump(text);
      if (!r.ok) throw r.error;
      expect(toDump(r.value)).toBe(text);
    }
    const x = dump("escapes").xattrs;
    const value = (n: string): string =>
      Buffer.from(x.find((a) => a.name === n)?.value ?? []).toString("latin1");
    expect([value("user.empty"), value("user.dash"), value("user.eq=k"), value("user.nl")]).toEqual([
      "",
      "-",
      "v=w",
      "\n\t\r\\",
    ]);
  });

  test("upstream's images read back to the dump they were made from (signed mtimes, sizes past 2^32)", () => {
    for (const name of ["escapes", "times-sizes", "hardlinks"]) {
      const r = readImage(readFileSync(join(FIXTURES, `${name}.cfs`)));
      if (!r.ok) throw r.error;
      expect({ name, dump: toDump(r.value.root) }).toEqual({ name, dump: toDump(dump(name)) });
    }
  });
});

describe("beyond what mkcomposefs writes", () => {
  test("a 2^60-byte sparse file modified before 1970 round-trips through directory, dump and image", async () => {
    using dir = tempDir("cfs-big-", "/dev/shm"); // tmpfs holds 2^60-byte files; ext4 stops at 2^44
    const src = join(dir.path, "src");
    mkdirSync(src);
    const SIZE = 2n ** 60n;
    await exec.run("truncate", ["-s", String(SIZE), join(src, "huge")]);
    await exec.run("touch", ["-d", "@-1000000000.25", join(src, "huge")]);
    const tree = treeFromDirectory(src);
    const f = tree.children.get("huge");
    if (f?.type !== "file") throw new Error("no file");
    expect([f.size, f.mtimeSec, f.mtimeNsec]).toEqual([SIZE, -1_000_000_001, 750_000_000]);
    // Independent oracle: 2^48 zero blocks fill six levels of 128-hash blocks; the top block holds 64 hashes.
    let h = sha256(new Uint8Array(4096));
    for (let level = 1; level <= 6; level++) h = sha256(Buffer.concat(Array.from({ length: 128 }, () => h)));
    const top = new Uint8Array(4096);
    for (let i = 0; i < 64; i++) top.set(h, i * 32);
    const desc = new Uint8Array(256);
    desc.set([1, 1, 12, 0]);
    new DataView(desc.buffer).setBigUint64(8, SIZE, true);
    desc.set(sha256(top), 16);
    expect(toHex(f.digest as Uint8Array)).toBe(toHex(sha256(desc)));
    const text = toDump(tree);
    expect(text).toContain(` ${SIZE} 100644 1 0 0 0 -1000000001.750000000 `);
    const back = parseDump(text);
    if (!back.ok) throw back.error;
    expect(toDump(back.value)).toBe(text);
    const r = readImage(writeImage(back.value).image);
    if (!r.ok) throw r.error;
    expect(toDump(r.value.root)).toBe(text);
  });
});

function sha256(b: Uint8Array): Uint8Array {
  return new Uint8Array(new Bun.CryptoHasher("sha256").update(b).digest());
}
