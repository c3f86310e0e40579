import { describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createRng, exec, tempDir } from "../test/harness.ts";
import { formatVerity, verifyVerity } from "./dm-verity.ts";
import { toHex } from "./fsverity.ts";

const SALT = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
const UUID = "12345678-1234-1234-1234-123456789abc";
const rng = createRng(7);

describe("dm-verity equals `veritysetup format`", () => {
  const cases = [1, 2, 127, 128, 129, 16385].flatMap((n) => [
    [n, true],
    [n, false],
  ]) as [number, boolean][];
  test.each(cases)("%d blocks, superblock %p", async (blocks, superblock) => {
    using dir = tempDir();
    const data = join(dir.path, "data");
    writeFileSync(data, rng.bytes(blocks * 4096));
    const ours = join(dir.path, "ours");
    const theirs = join(dir.path, "theirs");
    const r = formatVerity(data, ours, {
      salt: Buffer.from(SALT, "hex"),
      uuid: Buffer.from(UUID.replaceAll("-", ""), "hex"),
      superblock,
    });
    const rootFile = join(dir.path, "root-hash");
    await exec.run("veritysetup", [
      "format",
      data,
      theirs,
      `--salt=${SALT}`,
      `--root-hash-file=${rootFile}`,
      ...(superblock ? [`--uuid=${UUID}`] : ["--no-superblock"]),
    ]);
    expect(toHex(r.rootHash)).toBe(readFileSync(rootFile, "utf8").trim());
    expect(Buffer.compare(readFileSync(ours), readFileSync(theirs))).toBe(0);
    expect(r.hashSize).toBe(readFileSync(theirs).length);
    const v = await exec.run(
      "veritysetup",
      ["verify", data, ours, toHex(r.rootHash), ...(superblock ? [] : ["--no-superblock", `--salt=${SALT}`])],
      { allowFailure: true },
    );
    expect(v.exitCode).toBe(0);
  });

  test("empty salt matches too", async () => {
    using dir = tempDir();
    const data = join(dir.path, "data");
    writeFileSync(data, rng.bytes(200 * 4096));
    const r = formatVerity(data, join(dir.path, "h"), { salt: new Uint8Array(0), superblock: false });
    const rootFile = join(dir.path, "root-hash");
    await exec.run("veritysetup", [
      "format",
      "--no-superblock",
      "--salt=-",
      `--root-hash-file=${rootFile}`,
      data,
      join(dir.path, "t"),
    ]);
    expect(readFileSync(rootFile, "utf8").trim()).toBe(toHex(r.rootHash));
  });

  test("data not a multiple of 4096 is rejected, not truncated", () => {
    using dir = tempDir();
    const data = join(dir.path, "data");
    writeFileSync(data, rng.bytes(4096 * 3 + 1));
    expect(() =>
      formatVerity(data, join(dir.path, "h"), { salt: new Uint8Array(32), superblock: true }),
    ).toThrow(/multiple of 4096/);
  });
});

describe("verifyVerity", () => {
  test.each([true, false])(
    "accepts good data and names the first bad block (superblock %p)",
    (superblock) => {
      using dir = tempDir();
      const data = join(dir.path, "data");
      const bytes = rng.bytes(300 * 4096);
      writeFileSync(data, bytes);
      const hash = join(dir.path, "h");
      const salt = Buffer.from(SALT, "hex");
      const r = formatVerity(data, hash, { salt, superblock });
      const opts = superblock ? {} : { salt, superblock: false };
      expect(verifyVerity(data, hash, r.rootHash, opts)).toEqual({ ok: true });
      bytes[200 * 4096 + 17] = (bytes[200 * 4096 + 17] as number) ^ 1;
      bytes[250 * 4096] = (bytes[250 * 4096] as number) ^ 1;
      writeFileSync(data, bytes);
      const bad = verifyVerity(data, hash, r.rootHash, opts);
      expect(bad).toMatchObject({ ok: false, area: "data", block: 200 });
    },
  );

  test("a corrupted hash block or wrong root is reported", () => {
    using dir = tempDir();
    const data = join(dir.path, "data");
    writeFileSync(data, rng.bytes(300 * 4096));
    const hash = join(dir.path, "h");
    const r = formatVerity(data, hash, { salt: new Uint8Array(32), superblock: true });
    const wrong = new Uint8Array(r.rootHash);
    wrong[0] = (wrong[0] as number) ^ 1;
    expect(verifyVerity(data, hash, wrong)).toMatchObject({ ok: false, area: "root" });
    const h = readFileSync(hash);
    h[4096 + 5] = (h[4096 + 5] as number) ^ 1; // the top level block
    writeFileSync(hash, h);
    expect(verifyVerity(data, hash, r.rootHash)).toMatchObject({ ok: false, area: "hash" });
    h[0] = 0;
    writeFileSync(hash, h);
    expect(verifyVerity(data, hash, r.rootHash)).toMatchObject({ ok: false, area: "superblock" });
  });
});
