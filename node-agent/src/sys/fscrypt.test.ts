/**
 * fscrypt's structs (pure), then the real ioctls on an ext4 image made with `-O encrypt` and loop-mounted
 * on this machine (root, as CI runs): the key added, the v2 policy set, a file written, and on the image
 * the file's name and bytes are ciphertext.
 */
import { expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { addKeyArg, fscrypt, keyIdentifierOf, parsePolicyEx, policyV2 } from "./fscrypt.ts";

test("the add-key argument, the v2 policy and the get-policy answer, byte by byte", () => {
  const key = new Uint8Array(64).fill(0xaa);
  const arg = addKeyArg(key);
  expect(arg.length).toBe(80 + 64);
  expect([...arg.subarray(0, 4)]).toEqual([2, 0, 0, 0]); // key spec type: identifier
  expect([...arg.subarray(40, 44)]).toEqual([64, 0, 0, 0]); // raw_size
  expect(arg.subarray(80)).toEqual(key);
  arg.set(Buffer.from("00112233445566778899aabbccddeeff", "hex"), 8);
  expect(keyIdentifierOf(arg)).toBe("00112233445566778899aabbccddeeff");
  const p = policyV2("00112233445566778899aabbccddeeff");
  expect([...p.subarray(0, 8)]).toEqual([2, 1, 4, 3, 0, 0, 0, 0]); // v2, AES-256-XTS, AES-256-CTS, pad 32
  const ex = new Uint8Array(32);
  ex.set(p, 8);
  expect(parsePolicyEx(ex)).toEqual({ version: 2, identifier: "00112233445566778899aabbccddeeff" });
  expect(parsePolicyEx(new Uint8Array(32))).toEqual({ version: 0 });
  expect(() => addKeyArg(new Uint8Array(8))).toThrow("fscrypt key: 8 bytes, need 16..64");
  expect(() => policyV2("xyz")).toThrow("fscrypt key identifier");
});

test("on ext4 with the encrypt feature: key, policy, and only ciphertext on the disk", async () => {
  const dir = mkdtempSync(join(tmpdir(), "fscrypt-"));
  const image = join(dir, "img");
  const mnt = join(dir, "m");
  mkdirSync(mnt);
  const run = async (cmd: string[]) => {
    const p = Bun.spawn(cmd, { stdout: "pipe", stderr: "pipe" });
    const [out, err, code] = await Promise.all([
      new Response(p.stdout).text(),
      new Response(p.stderr).text(),
      p.exited,
    ]);
    if (code !== 0) throw new Error(`${cmd.join(" ")}: exit ${code}: ${err}`);
    return out;
  };
  await run(["truncate", "-s", "32M", image]);
  await run(["mkfs.ext4", "-q", "-F", "-O", "encrypt", image]);
  await run(["mount", "-o", "loop", image, mnt]);
  try {
    const key = crypto.getRandomValues(new Uint8Array(64));
    const id = fscrypt.addKey(mnt, key);
    expect(id).toMatch(/^[0-9a-f]{32}$/);
    expect(fscrypt.addKey(mnt, key)).toBe(id);
    mkdirSync(join(mnt, "share"));
    expect(fscrypt.policyOf(join(mnt, "share"))).toBeUndefined();
    fscrypt.setPolicy(join(mnt, "share"), id);
    expect(fscrypt.policyOf(join(mnt, "share"))).toBe(id);
    writeFileSync(join(mnt, "share", "plain-name.txt"), "the plaintext bytes\n");
    expect(readFileSync(join(mnt, "share", "plain-name.txt"), "utf8")).toBe("the plaintext bytes\n");
  } finally {
    await run(["umount", mnt]);
  }
  const raw = readFileSync(image);
  expect(raw.includes("the plaintext bytes")).toBe(false);
  expect(raw.includes("plain-name.txt")).toBe(false);
  const listing = await run(["debugfs", "-R", "ls -l /share", image]);
  expect(listing).toContain("<encrypted");
  rmSync(dir, { recursive: true, force: true });
}, 30_000);
