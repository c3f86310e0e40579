import { describe, expect, test } from "bun:test";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { exec, tempDir } from "./test/harness.ts";

const CLI = join(import.meta.dir, "cli.ts");
const run = (args: string[]) => exec.run(process.execPath, [CLI, ...args], { allowFailure: true });

describe("cli", () => {
  test("usage errors exit 2 with usage text", async () => {
    for (const args of [
      [],
      ["bogus"],
      ["digest"],
      ["verity", "nope"],
      ["digest", "f", "--salt"],
      ["mkcomposefs", "a"],
    ]) {
      const r = await run(args);
      expect({ args, code: r.exitCode }).toEqual({ args, code: 2 });
      expect(r.stderr).toContain("usage:");
    }
  });

  test("mkcomposefs from a directory and from a dump, inspect, digest, verity format/verify", async () => {
    using dir = tempDir();
    const src = join(dir.path, "src");
    mkdirSync(src);
    writeFileSync(join(src, "f"), "x".repeat(100));
    const img = join(dir.path, "a.cfs");
    const store = join(dir.path, "store");
    const mk = await run(["mkcomposefs", src, img, "--digest-store", store]);
    expect(mk.exitCode).toBe(0);
    const digest = mk.stdout.trim();
    const fsv = await exec.run("fsverity", ["digest", "--compact", img]);
    expect(digest).toBe(fsv.stdout.trim());
    const ins = await run(["inspect", img]);
    expect(ins.exitCode).toBe(0);
    expect(ins.stdout).toContain("/f 100 100644");
    const dumpFile = join(dir.path, "d.dump");
    writeFileSync(
      dumpFile,
      ins.stdout
        .split("\n")
        .filter((l) => !l.startsWith("#"))
        .join("\n"),
    );
    const img2 = join(dir.path, "b.cfs");
    expect((await run(["mkcomposefs", dumpFile, img2])).stdout.trim()).toBe(digest);
    const tarPath = join(dir.path, "src.tar");
    await exec.run("tar", ["--format=pax", "-C", src, "-cf", tarPath, "."]);
    const fromTar = await run([
      "mkcomposefs",
      tarPath,
      join(dir.path, "t.cfs"),
      "--digest-store",
      join(dir.path, "store2"),
    ]);
    expect(fromTar.exitCode).toBe(0);
    expect((await run(["inspect", join(dir.path, "t.cfs")])).stdout).toContain("/f 100 100644");
    const bad = join(dir.path, "bad.cfs");
    writeFileSync(bad, readFileSync(img).subarray(0, 3000));
    const badIns = await run(["inspect", bad]);
    expect(badIns.exitCode).toBe(1);
    expect(badIns.stderr).toMatch(/invalid composefs image: at offset \d+/);

    const dg = await run(["digest", img, "--salt", "abcd"]);
    expect(dg.stdout.trim()).toBe((await exec.run("fsverity", ["digest", "--salt=abcd", img])).stdout.trim());

    const hash = join(dir.path, "h");
    const fmt = await run(["verity", "format", img, hash, "--salt", "00ff"]);
    const root = /Root hash:\s*([0-9a-f]{64})/.exec(fmt.stdout)?.[1] as string;
    expect((await run(["verity", "verify", img, hash, root])).exitCode).toBe(0);
    const corrupt = readFileSync(img);
    corrupt[5000] = (corrupt[5000] as number) ^ 0xff;
    writeFileSync(img, corrupt);
    const v = await run(["verity", "verify", img, hash, root]);
    expect(v.exitCode).toBe(1);
    expect(v.stderr).toContain("data block 1");
  });
});
