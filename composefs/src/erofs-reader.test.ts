import { describe, expect, test } from "bun:test";
import { createRng, randomTree } from "../test/harness.ts";
import { toDump } from "./dump.ts";
import { readImage } from "./erofs-reader.ts";
import { writeImage } from "./erofs-writer.ts";
import type { DirNode } from "./tree.ts";
import { createDir } from "./tree.ts";

function smallImage(): Uint8Array {
  const root = createDir({ mtimeSec: 5 });
  const sub = createDir({ mtimeSec: 5 });
  root.children.set("sub", sub);
  sub.children.set("f", {
    type: "file",
    perm: 0o644,
    uid: 0,
    gid: 0,
    mtimeSec: 5,
    mtimeNsec: 0,
    xattrs: [{ name: "user.k", value: Buffer.from("v") }],
    size: 10,
    content: Buffer.from("0123456789"),
  });
  return writeImage(root).image;
}

/** Offsets of the dirents of the root directory's data block: [nameoff-of-entry, nid offset] by name. */
function rootDirent(img: Uint8Array, name: string): number {
  const dv = new DataView(img.buffer, img.byteOffset, img.byteLength);
  const blk = dv.getUint32(1152 + 16, true) * 4096;
  const n = dv.getUint16(blk + 8, true) / 12;
  for (let i = 0; i < n; i++) {
    const off = dv.getUint16(blk + i * 12 + 8, true);
    const end = i + 1 < n ? dv.getUint16(blk + (i + 1) * 12 + 8, true) : off + name.length;
    if (Buffer.from(img.subarray(blk + off, blk + end)).toString("latin1") === name) return blk + i * 12;
  }
  throw new Error(`no dirent ${name}`);
}

describe("readImage rejects hostile images with a typed error naming the offset", () => {
  test("truncated image", () => {
    const img = smallImage();
    for (const len of [0, 100, 1100, 2000, img.length - 4096]) {
      const r = readImage(img.subarray(0, len));
      expect(r.ok).toBe(false);
      if (!r.ok) {
        expect(r.error.kind).toBe("composefs-format");
        expect(typeof r.error.offset).toBe("number");
        expect(r.error.problem.length).toBeGreaterThan(0);
      }
    }
  });

  test("a directory entry looping back to the root", () => {
    const img = new Uint8Array(smallImage());
    const d = rootDirent(img, "sub");
    new DataView(img.buffer).setBigUint64(d, 36n, true);
    const r = readImage(img);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.problem).toMatch(/loop|hardlinked directory/);
  });

  test("out-of-range nid, xattr count, shared xattr index and size", () => {
    const base = smallImage();
    const cases: [string, (dv: DataView, img: Uint8Array) => void, RegExp][] = [
      ["nid", (dv, img) => dv.setBigUint64(rootDirent(img, "sub"), 1n << 40n, true), /past the end/],
      ["root nid", (dv) => dv.setUint16(1024 + 14, 0xfff0, true), /past the end/],
      ["xattr icount", (dv) => dv.setUint16(1152 + 2, 0xffff, true), /xattr area/],
      ["dir size", (dv) => dv.setUint32(1152 + 8, 0xfffffff0, true), /size|past/],
      ["magic", (dv) => dv.setUint32(0, 1, true), /magic/],
      [
        "blkszbits",
        (_dv, img) => {
          img[1024 + 12] = 9;
        },
        /block size/,
      ],
    ];
    for (const [what, mutate, re] of cases) {
      const img = new Uint8Array(base);
      mutate(new DataView(img.buffer), img);
      const r = readImage(img);
      expect({ what, ok: r.ok }).toEqual({ what, ok: false });
      if (!r.ok)
        expect({ what, problem: r.error.problem }).toEqual({ what, problem: expect.stringMatching(re) });
    }
  });
});

describe("fuzz", () => {
  test("10,000 mutated images: only typed errors, none over 1 s", () => {
    const rng = createRng(2024);
    const bases: Uint8Array[] = [smallImage()];
    for (let s = 0; s < 4; s++)
      bases.push(writeImage(randomTree(500 + s, { size: 12, maxFileSize: 1 << 20 }) as DirNode).image);
    let errors = 0;
    let slowest = 0;
    for (let i = 0; i < 10_000; i++) {
      const base = rng.pick(bases);
      let img = new Uint8Array(base);
      const dv = () => new DataView(img.buffer, img.byteOffset, img.byteLength);
      const hot = (): number =>
        rng.chance(0.7) ? rng.int(0, Math.min(img.length, 12288) - 1) : rng.int(0, img.length - 1);
      const kind = rng.int(0, 5);
      const n = rng.int(1, 6);
      for (let k = 0; k < n; k++) {
        if (kind <= 1) {
          const at = hot();
          img[at] = rng.int(0, 255);
        } else if (kind === 2) {
          const at = hot() & ~3;
          if (at + 4 <= img.length)
            dv().setUint32(at, rng.pick([0, 1, 36, 0xff, 0xffff, 0xffffffff, rng.int(0, 0xffffffff)]), true);
        } else if (kind === 3) {
          const at = hot() & ~1;
          if (at + 2 <= img.length)
            dv().setUint16(at, rng.pick([0, 12, 0xfff, 0xffff, rng.int(0, 0xffff)]), true);
        } else if (kind === 4) {
          const at = hot() & ~7;
          if (at + 8 <= img.length)
            dv().setBigUint64(at, rng.pick([0n, 36n, 1n << 40n, (1n << 64n) - 1n]), true);
        } else {
          img = img.subarray(0, rng.int(0, img.length));
        }
      }
      const t0 = performance.now();
      const r = readImage(img);
      const dt = performance.now() - t0;
      slowest = Math.max(slowest, dt);
      if (dt > 1000) throw new Error(`mutation ${i} took ${dt.toFixed(0)} ms`);
      if (!r.ok) {
        errors++;
        expect(r.error.kind).toBe("composefs-format");
        if (!Number.isFinite(r.error.offset)) throw new Error(`mutation ${i}: error without offset`);
      }
    }
    // Most mutations are detected; some land in padding or data and still parse.
    expect(errors).toBeGreaterThan(1000);
    expect(slowest).toBeLessThan(1000);
  }, 60_000);
});

describe("deep trees", () => {
  test("a 20,000-level directory chain is written and read back without recursion limits", () => {
    const chain = (depth: number): DirNode => {
      const root = createDir();
      let d: DirNode = root;
      for (let i = 0; i < depth; i++) {
        const c = createDir();
        d.children.set("d", c);
        d = c;
      }
      return root;
    };
    const r = readImage(writeImage(chain(20_000)).image);
    if (!r.ok) throw r.error;
    let depth = 0;
    for (let d = r.value.root.children.get("d"); d?.type === "dir"; d = d.children.get("d")) depth++;
    expect(depth).toBe(20_000);
    // The dump repeats every path in full, so keep that one smaller (its size is quadratic in depth).
    expect(toDump(chain(2_000)).split("\n").length).toBe(2_002);
  }, 30_000);
});
