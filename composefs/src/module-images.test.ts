import { describe, expect, test } from "bun:test";
import { linkSync, mkdirSync, readFileSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createRng, exec, requireRoot, tempDir, withMount } from "../test/harness.ts";
import { verifyVerity } from "./dm-verity.ts";
import { toDump } from "./dump.ts";
import { writeXattr } from "./libc-ffi.ts";
import { buildModuleImages } from "./module-images.ts";
import { treeFromDirectory } from "./tree-from-directory.ts";

/** A small but varied source tree on disk. */
async function makeSource(dir: string): Promise<void> {
  const rng = createRng(99);
  mkdirSync(join(dir, "usr/lib/modules"), { recursive: true });
  mkdirSync(join(dir, "etc"), { recursive: true });
  writeFileSync(join(dir, "etc/hostname"), "node\n");
  writeFileSync(join(dir, "etc/empty"), "");
  writeFileSync(join(dir, "usr/lib/big.bin"), rng.bytes(300_000));
  writeFileSync(join(dir, "usr/lib/dup-a"), Buffer.alloc(10_000, 1));
  writeFileSync(join(dir, "usr/lib/dup-b"), Buffer.alloc(10_000, 1));
  writeFileSync(join(dir, "usr/lib/exact-4096"), rng.bytes(4096));
  linkSync(join(dir, "usr/lib/big.bin"), join(dir, "usr/lib/big.hardlink"));
  symlinkSync("../lib/big.bin", join(dir, "usr/lib/modules/link"));
  writeFileSync(join(dir, "usr/lib/modules/sp ace\nname"), "weird name");
  for (let i = 0; i < 40; i++)
    writeFileSync(join(dir, "usr/lib/modules", `m${i}.ko`), rng.bytes(rng.int(0, 9000)));
  writeXattr(join(dir, "usr/lib/big.bin"), "user.checksum", Buffer.from("abc"));
  writeXattr(join(dir, "etc"), "trusted.overlay.opaque", Buffer.from("y"));
  writeXattr(
    join(dir, "etc/hostname"),
    "security.capability",
    Buffer.from([1, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
  );
  await exec.run("mkfifo", [join(dir, "etc/fifo")]);
  utimesSync(join(dir, "etc/hostname"), 1_700_000_000.123, 1_700_000_000.123);
}

describe("buildModuleImages", () => {
  test("metadata + blob + verity: fsck, verity verify, reproducible, and the mounted overlay equals the source", async () => {
    requireRoot("module mount check");
    using dir = tempDir();
    const src = join(dir.path, "src");
    mkdirSync(src);
    await makeSource(src);
    const m = await buildModuleImages(src, join(dir.path, "out"));
    await exec.run("fsck.erofs", [m.blobImage]);
    await exec.run("fsck.erofs", [m.metadataImage]);
    expect(verifyVerity(m.blobImage, m.verityHashFile, Buffer.from(m.verityRootHash, "hex"))).toEqual({
      ok: true,
    });
    const vs = await exec.run("veritysetup", ["verify", m.blobImage, m.verityHashFile, m.verityRootHash], {
      allowFailure: true,
    });
    expect(vs.exitCode).toBe(0);
    expect(m.sizes.objects).toBe(countExternal(src));

    const again = await buildModuleImages(src, join(dir.path, "out2"));
    for (const k of ["metadataImage", "blobImage", "verityHashFile"] as const) {
      expect({ k, same: Buffer.compare(readFileSync(m[k]), readFileSync(again[k])) === 0 }).toEqual({
        k,
        same: true,
      });
    }
    expect(again.verityRootHash).toBe(m.verityRootHash);

    const blobMnt = join(dir.path, "blob");
    const meta = join(dir.path, "meta");
    const mnt = join(dir.path, "mnt");
    for (const d of [blobMnt, meta, mnt]) mkdirSync(d);
    const want = toDump(treeFromDirectory(src));
    const got = await withMount(["-t", "erofs", "-o", "loop,ro", m.blobImage], blobMnt, () =>
      withMount(["-t", "erofs", "-o", "ro", m.metadataImage], meta, () =>
        withMount(
          ["-t", "overlay", "overlay", "-o", `ro,metacopy=on,redirect_dir=on,lowerdir=${meta}::${blobMnt}`],
          mnt,
          () => toDump(treeFromDirectory(mnt)),
        ),
      ),
    );
    // The dump carries fs-verity digests recomputed from the mounted files' bytes, so equal dumps mean
    // equal contents as well as equal metadata, xattrs, symlinks and hardlinks.
    expect(got).toBe(want);
  }, 30_000);
});

/** Distinct external (non-inline) file contents in the source, i.e. the expected object count. */
function countExternal(src: string): number {
  const t = treeFromDirectory(src);
  const digests = new Set<string>();
  const walk = (d: typeof t): void => {
    for (const c of d.children.values()) {
      if (c.type === "dir") walk(c);
      else if (c.type === "file" && c.digest) digests.add(Buffer.from(c.digest).toString("hex"));
    }
  };
  walk(t);
  return digests.size;
}
