import { describe, expect, test } from "bun:test";
import { linkSync, mkdirSync, readFileSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createRng, exec, tempDir } from "../test/harness.ts";
import { toDump } from "./dump.ts";
import { writeImage } from "./erofs-writer.ts";
import { toHex } from "./fsverity.ts";
import { writeXattr } from "./libc-ffi.ts";
import { createObjectStore } from "./object-store.ts";
import type { DirNode } from "./tree.ts";
import { treeFromDirectory } from "./tree-from-directory.ts";
import { treeFromTar, treeFromTarStream } from "./tree-from-tar.ts";

describe("treeFromTar", () => {
  test("GNU tar --format=pax --xattrs of a directory gives the same tree as reading the directory", async () => {
    using dir = tempDir();
    const src = join(dir.path, "src");
    const rng = createRng(5);
    mkdirSync(join(src, "a/b"), { recursive: true });
    writeFileSync(join(src, "a/small"), "tiny");
    writeFileSync(join(src, "a/big"), rng.bytes(70_000));
    linkSync(join(src, "a/big"), join(src, "a/b/hard"));
    symlinkSync("../small", join(src, "a/b/sym"));
    writeFileSync(join(src, `long-${"n".repeat(150)}`), "x");
    writeFileSync(join(src, "new\nline ünï"), "");
    writeXattr(join(src, "a/big"), "user.k", Buffer.from("v"));
    writeXattr(join(src, "a"), "trusted.t", Buffer.from([0, 1, 2]));
    await exec.run("mkfifo", [join(src, "a/fifo")]);
    utimesSync(join(src, "a/small"), 1_600_000_000.5, 1_600_000_000.5);
    const tarPath = join(dir.path, "t.tar");
    await exec.run("tar", ["--format=pax", "--xattrs", "--xattrs-include=*", "-C", src, "-cf", tarPath, "."]);
    const store = createObjectStore(join(dir.path, "objects"));
    const r = treeFromTar(readFileSync(tarPath), { store });
    if (!r.ok) throw r.error;
    // A tar records hardlinks; the directory reader keeps them only when asked.
    expect(toDump(r.value)).toBe(toDump(treeFromDirectory(src, { hardlinks: true })));
    expect(store.count).toBe(1);
  });

  test("xattr names with '=' and '%' (PAX %3D / %25) and times before 1970 give the directory's image", async () => {
    using dir = tempDir();
    const src = join(dir.path, "src");
    mkdirSync(join(src, "d"), { recursive: true });
    writeFileSync(join(src, "d/f"), "content of more than sixty-four bytes, so that it goes to the store");
    writeXattr(join(src, "d/f"), "user.a=b", Buffer.from("c"));
    writeXattr(join(src, "d/f"), "user.50%", Buffer.from("-"));
    await exec.run("touch", ["-d", "@-1000.5", join(src, "d/f")]);
    await exec.run("touch", ["-d", "@1000", join(src, "d"), src]);
    const tarPath = join(dir.path, "t.tar");
    await exec.run("tar", ["--format=pax", "--xattrs", "--xattrs-include=*", "-C", src, "-cf", tarPath, "."]);
    const r = treeFromTar(readFileSync(tarPath));
    if (!r.ok) throw r.error;
    const f = (r.value.children.get("d") as DirNode).children.get("f");
    expect(f?.xattrs.map((x) => x.name)).toEqual(["user.50%", "user.a=b"]);
    expect([f?.mtimeSec, f?.mtimeNsec]).toEqual([-1001, 500_000_000]);
    expect(toHex(writeImage(r.value).digest)).toBe(toHex(writeImage(treeFromDirectory(src)).digest));
  });

  test("streaming in arbitrary chunks gives the same tree and objects; a truncated stream is an error", async () => {
    using dir = tempDir();
    const src = join(dir.path, "src");
    const rng = createRng(11);
    mkdirSync(join(src, "d"), { recursive: true });
    for (let i = 0; i < 20; i++) writeFileSync(join(src, "d", `f${i}`), rng.bytes(rng.int(0, 20_000)));
    writeXattr(join(src, "d/f3"), "user.x", Buffer.from("y"));
    const tarPath = join(dir.path, "t.tar");
    await exec.run("tar", ["--format=pax", "--xattrs", "--xattrs-include=*", "-C", src, "-cf", tarPath, "."]);
    const bytes = readFileSync(tarPath);
    const chunks = async function* (b: Uint8Array): AsyncGenerator<Uint8Array> {
      for (let off = 0; off < b.length; ) {
        const n = Math.min(rng.int(1, 3000), b.length - off);
        yield b.subarray(off, off + n);
        off += n;
      }
    };
    const store = createObjectStore(join(dir.path, "objects"));
    const streamed = await treeFromTarStream(chunks(bytes), { store });
    if (!streamed.ok) throw streamed.error;
    const whole = treeFromTar(bytes);
    if (!whole.ok) throw whole.error;
    expect(toDump(streamed.value)).toBe(toDump(whole.value));
    expect(toDump(streamed.value)).toBe(toDump(treeFromDirectory(src, { hardlinks: true })));
    const ext = (streamed.value.children.get("d") as DirNode).children.get("f5");
    if (ext?.type === "file" && ext.redirect) {
      expect(
        Buffer.compare(
          readFileSync(join(dir.path, "objects", ext.redirect)),
          readFileSync(join(src, "d/f5")),
        ),
      ).toBe(0);
    }
    const cut = await treeFromTarStream(chunks(bytes.subarray(0, 10_000)), { store });
    expect(cut.ok).toBe(false);
    if (!cut.ok) expect(cut.error.problem).toMatch(/ends inside/);
  });

  test("OCI whiteouts and truncated or corrupt archives", async () => {
    using dir = tempDir();
    const src = join(dir.path, "src");
    mkdirSync(join(src, "d"), { recursive: true });
    writeFileSync(join(src, "d/.wh.gone"), "");
    writeFileSync(join(src, "d/.wh..wh..opq"), "");
    const tarPath = join(dir.path, "t.tar");
    await exec.run("tar", ["--format=pax", "-C", src, "-cf", tarPath, "."]);
    const bytes = readFileSync(tarPath);
    const r = treeFromTar(bytes);
    if (!r.ok) throw r.error;
    const d = r.value.children.get("d");
    expect(d?.type).toBe("dir");
    if (d?.type === "dir") {
      expect(d.children.get("gone")?.type).toBe("whiteout");
      expect(d.xattrs.map((x) => x.name)).toEqual(["trusted.overlay.opaque"]);
    }
    const bad = new Uint8Array(bytes);
    bad[100] = 0x39;
    const e = treeFromTar(bad);
    expect(e.ok).toBe(false);
    if (!e.ok) expect(e.error.problem).toMatch(/checksum|octal/);
  });
});

describe("hostile tar input", () => {
  test("2,000 mutated archives give a tree or a typed error, never a crash", async () => {
    using dir = tempDir();
    const src = join(dir.path, "src");
    const rng = createRng(77);
    mkdirSync(join(src, "d"), { recursive: true });
    for (let i = 0; i < 6; i++) writeFileSync(join(src, "d", `f${i}`), rng.bytes(rng.int(0, 3000)));
    symlinkSync("d/f1", join(src, "l"));
    linkSync(join(src, "d/f2"), join(src, "h"));
    const tarPath = join(dir.path, "t.tar");
    await exec.run("tar", ["--format=pax", "-C", src, "-cf", tarPath, "."]);
    const base = readFileSync(tarPath);
    for (let i = 0; i < 2000; i++) {
      const b = new Uint8Array(base);
      for (let k = rng.int(1, 8); k > 0; k--) b[rng.int(0, Math.min(b.length, 8192) - 1)] = rng.int(0, 255);
      const cut = rng.chance(0.2) ? b.subarray(0, rng.int(0, b.length)) : b;
      const r = treeFromTar(cut);
      if (!r.ok) expect(r.error.kind).toBe("composefs-format");
    }
  });
});
