import { describe, expect, test } from "bun:test";
import { linkSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { exec, tempDir } from "../test/harness.ts";
import { fsVerityDigest, toHex } from "./fsverity.ts";
import { writeXattr } from "./libc-ffi.ts";
import { createObjectStore } from "./object-store.ts";
import { treeFromDirectory } from "./tree-from-directory.ts";

describe("treeFromDirectory", () => {
  test("metadata, xattrs (vs getfattr), hardlinks, devices, inline threshold and object store", async () => {
    using dir = tempDir();
    const src = join(dir.path, "src");
    mkdirSync(join(src, "d"), { recursive: true });
    writeFileSync(join(src, "d/inline"), "x".repeat(64));
    const big = Buffer.alloc(65, 3);
    writeFileSync(join(src, "d/external"), big);
    linkSync(join(src, "d/external"), join(src, "hl"));
    symlinkSync("d/inline", join(src, "sym"));
    await exec.run("mknod", [join(src, "null"), "c", "1", "3"]);
    await exec.run("mknod", [join(src, "wh"), "c", "0", "0"]);
    writeXattr(join(src, "d/external"), "user.bin", Buffer.from([0, 255, 10]));
    writeXattr(join(src, "d/external"), "trusted.overlay.x", Buffer.from("esc"));
    const store = createObjectStore(join(dir.path, "objects"));
    const t = treeFromDirectory(src, { store });
    const d = t.children.get("d");
    if (d?.type !== "dir") throw new Error("no d");
    const inline = d.children.get("inline");
    const ext = d.children.get("external");
    expect(inline?.type === "file" && inline.content?.length).toBe(64);
    if (ext?.type !== "file") throw new Error("no external");
    expect(ext.content).toBeUndefined();
    expect(toHex(ext.digest as Uint8Array)).toBe(toHex(fsVerityDigest(big)));
    expect(ext.redirect).toBe(
      `${toHex(ext.digest as Uint8Array).slice(0, 2)}/${toHex(ext.digest as Uint8Array).slice(2)}`,
    );
    // Every name its own node by default (as mkcomposefs); hardlinks: true keeps one node.
    const hl = t.children.get("hl");
    expect(hl).not.toBe(ext);
    expect(hl?.type === "file" && toHex(hl.digest as Uint8Array)).toBe(toHex(ext.digest as Uint8Array));
    const kept = treeFromDirectory(src, { hardlinks: true });
    expect(kept.children.get("hl")).toBe((kept.children.get("d") as typeof d).children.get("external"));
    expect(t.children.get("wh")?.type).toBe("whiteout");
    const nul = t.children.get("null");
    expect(nul?.type === "chardev" && nul.rdev).toBe(0x103);
    const sym = t.children.get("sym");
    expect(sym?.type === "symlink" && sym.target).toBe("d/inline");
    const fattr = (
      await exec.run("getfattr", ["--absolute-names", "-d", "-m", "-", "-e", "hex", join(src, "d/external")])
    ).stdout;
    const want = fattr
      .split("\n")
      .filter((l) => l.includes("="))
      .sort();
    expect(ext.xattrs.map((x) => `${x.name}=0x${toHex(x.value)}`).sort()).toEqual(want);
    const stat = (await exec.run("stat", ["-c", "%Y %u %g %a", join(src, "d/external")])).stdout.trim();
    expect(`${ext.mtimeSec} ${ext.uid} ${ext.gid} ${ext.perm.toString(8)}`).toBe(stat);
    expect(store.count).toBe(1);
  });
});
