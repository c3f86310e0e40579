/**
 * Layout facts pinned from containers/composefs-rs' mkfs snapshots (`empty_v1`, `simple_v1`), which that
 * project checks byte for byte against C mkcomposefs (`--min-version=0`). Upstream mkcomposefs is not
 * packaged for this machine, so these independent figures stand in for it: same trees, same nids, inode
 * fields, xattr placement and image sizes.
 */
import { describe, expect, test } from "bun:test";
import { writeImage } from "./erofs-writer.ts";
import type { TreeNode } from "./tree.ts";
import { createDir, digestToPath } from "./tree.ts";

const le = (img: Uint8Array) => new DataView(img.buffer, img.byteOffset, img.byteLength);

describe("layout matches the mkcomposefs-compatible reference layout", () => {
  test("empty root", () => {
    const img = writeImage(createDir({ perm: 0o755 })).image;
    const dv = le(img);
    expect([
      Number(dv.getBigUint64(1024 + 16, true)),
      dv.getUint32(1024 + 36, true),
      dv.getUint32(1024 + 44, true),
      dv.getUint16(1024 + 14, true),
    ]).toEqual([257, 4, 2, 36]);
    // Root inode: compact FLAT_PLAIN, icount 6 (only trusted.overlay.opaque=y), one dirent block at block 3.
    expect([
      dv.getUint16(0x480, true),
      dv.getUint16(0x482, true),
      dv.getUint16(0x484, true),
      dv.getUint16(0x486, true),
      dv.getUint32(0x488, true),
      dv.getUint32(0x490, true),
      dv.getUint32(0x4a0, true),
    ]).toEqual([0, 6, 0o40755, 2, 4096, 3, 4293918719]);
    // First root whiteout "00": nid 38, ino 1, mode 020644.
    expect([dv.getUint16(0x4c4, true), dv.getUint32(0x4c0 + 20, true)]).toEqual([0o20644, 1]);
  });

  test("fifo, inline and external files, devices, socket, symlink", () => {
    const root = createDir({ perm: 0o755 });
    const m = { perm: 0, uid: 0, gid: 0, mtimeSec: 0, mtimeNsec: 0, xattrs: [] };
    const digest = new Uint8Array(32).fill(0x5a);
    const leaves: [string, TreeNode][] = [
      ["fifo", { ...m, type: "fifo" }],
      ["regular-inline", { ...m, type: "file", size: 4, content: Buffer.from("hihi") }],
      ["regular-external", { ...m, type: "file", size: 1234, digest, redirect: digestToPath(digest) }],
      ["chrdev", { ...m, type: "chardev", rdev: 123 }],
      ["blkdev", { ...m, type: "blockdev", rdev: 123 }],
      ["socket", { ...m, type: "socket" }],
      ["symlink", { ...m, type: "symlink", target: "/target" }],
    ];
    for (const [n, l] of leaves) root.children.set(n, l);
    const img = writeImage(root).image;
    const dv = le(img);
    expect(img.length).toBe(16384);
    expect([
      Number(dv.getBigUint64(1024 + 16, true)),
      dv.getUint32(1024 + 36, true),
      dv.getUint32(1024 + 44, true),
    ]).toEqual([264, 4, 2]);
    const inode = (nid: number) => {
      const o = nid * 32;
      return {
        format: dv.getUint16(o, true),
        icount: dv.getUint16(o + 2, true),
        mode: dv.getUint16(o + 4, true),
        size: dv.getUint32(o + 8, true),
        u: dv.getUint32(o + 16, true),
        ino: dv.getUint32(o + 20, true),
      };
    };
    expect(inode(230)).toEqual({ format: 0, icount: 0, mode: 0o60000, size: 0, u: 123, ino: 193 });
    expect(inode(247)).toEqual({ format: 0, icount: 0, mode: 0o20000, size: 0, u: 123, ino: 210 });
    expect(inode(296)).toEqual({ format: 0, icount: 0, mode: 0o10000, size: 0, u: 0, ino: 259 });
    expect(inode(297)).toEqual({ format: 8, icount: 37, mode: 0o100000, size: 1234, u: 0, ino: 260 });
    expect(inode(303)).toEqual({ format: 4, icount: 0, mode: 0o100000, size: 4, u: 0, ino: 261 });
    expect(inode(305)).toEqual({ format: 0, icount: 0, mode: 0o140000, size: 0, u: 0, ino: 262 });
    expect(inode(306)).toEqual({ format: 4, icount: 0, mode: 0o120000, size: 7, u: 0, ino: 263 });
    const ext = 297 * 32;
    expect(dv.getUint32(ext + 0x20, true)).toBe(2147352575); // xattr name filter
    expect([...img.subarray(ext + 0x2c, ext + 0x30)]).toEqual([16, 4, 36, 0]); // trusted.overlay.metacopy
    expect([...img.subarray(ext + 0x64, ext + 0x68)]).toEqual([16, 4, 66, 0]); // trusted.overlay.redirect
    expect(dv.getUint32(ext + 0xbc, true)).toBe(0xffffffff); // the null chunk index
    expect(Buffer.from(img.subarray(303 * 32 + 32, 303 * 32 + 36)).toString()).toBe("hihi");
    expect(Buffer.from(img.subarray(306 * 32 + 32, 306 * 32 + 39)).toString()).toBe("/target");
    // Directory block 3: ".", "..", "00", … with names starting at 3180.
    expect([
      Number(dv.getBigUint64(0x3000, true)),
      dv.getUint16(0x3008, true),
      Number(dv.getBigUint64(0x3018, true)),
      dv.getUint16(0x3020, true),
    ]).toEqual([36, 3180, 38, 3183]);
  });
});
