import { describe, expect, test } from "bun:test";
import { linkSync, mkdirSync, symlinkSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "../test/harness.ts";
import { writeImage } from "./erofs-writer.ts";
import { packReads, unpackReads } from "./file-read-pack.ts";
import { toHex } from "./fsverity.ts";
import { writeXattr } from "./libc-ffi.ts";
import { treeFromDirectory } from "./tree-from-directory.ts";
import { treeFromDirectoryParallel } from "./tree-from-directory-parallel.ts";

/** A tree with every kind of regular file the readers treat differently, in more than one batch. */
function makeTree(src: string): void {
  for (let d = 0; d < 6; d++) {
    const dir = join(src, `d${d}`);
    mkdirSync(dir, { recursive: true });
    for (let f = 0; f < 250; f++) writeFileSync(join(dir, `f${f}`), Buffer.alloc((f * 7) % 200, f + d));
  }
  writeFileSync(join(src, "empty"), "");
  writeFileSync(join(src, "inline"), "x".repeat(64));
  writeFileSync(join(src, "big"), Buffer.alloc(3 << 20, 9));
  writeFileSync(join(src, "sparse"), "");
  truncateSync(join(src, "sparse"), 5 << 30);
  linkSync(join(src, "inline"), join(src, "hardlink"));
  symlinkSync("inline", join(src, "sym"));
  writeXattr(join(src, "big"), "user.bin", Buffer.from([0, 255, 10]));
  writeXattr(join(src, "d0/f3"), "user.empty", new Uint8Array(0));
}

describe("treeFromDirectoryParallel", () => {
  test("the same image and digest as the single-threaded walk, with and without hardlinks", async () => {
    using dir = tempDir();
    const src = join(dir.path, "src");
    makeTree(src);
    for (const hardlinks of [false, true]) {
      const one = writeImage(treeFromDirectory(src, { hardlinks }));
      for (const threads of [2, 3]) {
        const par = writeImage(await treeFromDirectoryParallel(src, { hardlinks, threads }));
        expect(toHex(par.digest)).toBe(toHex(one.digest));
        expect(Buffer.from(par.image).equals(Buffer.from(one.image))).toBe(true);
      }
    }
    const t = await treeFromDirectoryParallel(src, { hardlinks: true, threads: 2 });
    expect(t.children.get("hardlink")).toBe(t.children.get("inline"));
  });

  test("reads pack and unpack exactly", () => {
    const reads = [
      { xattrs: [] },
      {
        xattrs: [{ name: "user.a\u00ff", value: new Uint8Array([1, 2]) }],
        content: new Uint8Array([7, 8, 9]),
      },
      { xattrs: [{ name: "user.e", value: new Uint8Array(0) }], digest: new Uint8Array(32).fill(5) },
    ];
    const back = unpackReads(packReads(reads), 3);
    expect(back.map((r) => [r.content && [...r.content], r.digest && [...r.digest]])).toEqual([
      [undefined, undefined],
      [[7, 8, 9], undefined],
      [undefined, [...new Uint8Array(32).fill(5)]],
    ]);
    expect(back.map((r) => r.xattrs.map((x) => [x.name, [...x.value]]))).toEqual([
      [],
      [["user.a\u00ff", [1, 2]]],
      [["user.e", []]],
    ]);
    expect(() => unpackReads(packReads(reads), 2)).toThrow("bytes left");
  });
});
