import { describe, expect, test } from "bun:test";
import { closeSync, openSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { createRng, exec, tempDir } from "../test/harness.ts";
import { createFsVerityHasher, fsVerityDigest, fsVerityDigestFile, toHex } from "./fsverity.ts";

async function oracle(path: string, salt?: string): Promise<string> {
  const args = ["digest", "--compact", ...(salt ? [`--salt=${salt}`] : []), path];
  return (await exec.run("fsverity", args)).stdout.trim();
}

describe("fs-verity digest equals `fsverity digest`", () => {
  const rng = createRng(1);
  const sizes = [0, 1, 4095, 4096, 4097, 128 * 4096, 128 * 4096 + 1, 300_000];
  test.each(sizes)("%d bytes", async (size) => {
    using dir = tempDir();
    const f = join(dir.path, "f");
    const data = rng.bytes(size);
    writeFileSync(f, data);
    const want = await oracle(f);
    expect(toHex(fsVerityDigestFile(f))).toBe(want);
    expect(toHex(fsVerityDigest(data))).toBe(want);
  });

  test("3-level tree (64 MiB + 5000, sparse with data at both ends)", async () => {
    using dir = tempDir();
    const f = join(dir.path, "f");
    const size = 128 * 128 * 4096 + 5000;
    const fd = openSync(f, "w");
    writeSync(fd, rng.bytes(4096), 0, 4096, 0);
    writeSync(fd, rng.bytes(5000), 0, 5000, size - 5000);
    closeSync(fd);
    expect(toHex(fsVerityDigestFile(f))).toBe(await oracle(f));
  });

  test.each([
    ["1-byte salt", "ab", 4097],
    ["32-byte salt", "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff", 129 * 4096],
    ["7-byte salt, one block", "01020304050607", 100],
  ])("%s", async (_name, salt, size) => {
    using dir = tempDir();
    const f = join(dir.path, "f");
    writeFileSync(f, rng.bytes(size));
    expect(toHex(fsVerityDigestFile(f, { salt: Buffer.from(salt, "hex") }))).toBe(await oracle(f, salt));
  });

  test("streaming in odd-sized pieces equals one-shot", () => {
    const data = rng.bytes(1_000_003);
    const h = createFsVerityHasher();
    for (let off = 0; off < data.length; ) {
      const n = Math.min(rng.int(1, 9000), data.length - off);
      h.update(data.subarray(off, off + n));
      off += n;
    }
    expect(toHex(h.digest())).toBe(toHex(fsVerityDigest(data)));
  });

  test("rejects a salt over 32 bytes", () => {
    expect(() => createFsVerityHasher({ salt: new Uint8Array(33) })).toThrow(/salt/);
  });
});
