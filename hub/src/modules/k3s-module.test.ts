/**
 * The k3s module from a binary: the ELF checks and the version parse, and a real build (mkfs.erofs,
 * veritysetup) with a stand-in executable for k3s (this machine has no k3s binary; the bytes do not
 * matter to the builder).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createExec } from "@powernode/exec";
import { buildK3sModule, elfArch, parseK3sVersion } from "./k3s-module.ts";

const work = mkdtempSync(join(tmpdir(), "pn-k3s-module-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const hostArch = process.arch === "arm64" ? "arm64" : "amd64";
const otherArch = hostArch === "amd64" ? "arm64" : "amd64";

describe("k3s module", () => {
  test("ELF header: amd64, arm64, or a reason", () => {
    const h = (machine: number) => {
      const b = new Uint8Array(64);
      b.set([0x7f, 0x45, 0x4c, 0x46, 2, 1]);
      b[18] = machine & 0xff;
      b[19] = machine >> 8;
      return b;
    };
    expect(elfArch(h(0x3e))).toEqual({ arch: "amd64" });
    expect(elfArch(h(0xb7))).toEqual({ arch: "arm64" });
    expect(elfArch(h(0x28))).toEqual({ error: "ELF machine 0x28 is neither amd64 nor arm64" });
    expect(elfArch(new TextEncoder().encode("#!/bin/sh\necho k3s\n"))).toEqual({
      error: "not an ELF executable",
    });
    expect(elfArch(readFileSync(process.execPath).subarray(0, 64))).toEqual({ arch: hostArch });
  });

  test("version from `k3s --version`", () => {
    expect(parseK3sVersion("k3s version v1.30.4+k3s1 (98262b5d)\ngo version go1.22.5\n")).toBe(
      "v1.30.4+k3s1",
    );
    expect(parseK3sVersion("something else")).toBeUndefined();
  });

  test("unset, not ELF, wrong arch: errors that say what to do", async () => {
    const out = join(work, "never");
    await expect(buildK3sModule({ binary: undefined, arch: "amd64", outDir: out })).rejects.toThrow(
      /^POWERNODE_K3S_BINARY is unset: set it to a k3s binary/,
    );
    const script = join(work, "k3s.sh");
    writeFileSync(script, "#!/bin/sh\n", { mode: 0o755 });
    await expect(buildK3sModule({ binary: script, arch: "amd64", outDir: out })).rejects.toThrow(
      /not an ELF executable/,
    );
    await expect(buildK3sModule({ binary: process.execPath, arch: otherArch, outDir: out })).rejects.toThrow(
      new RegExp(`is an ${hostArch} binary, the module is for ${otherArch}`),
    );
  });

  test("builds: /usr/local/bin/k3s with its links, the given version, a root hash that verifies", async () => {
    const fake = join(work, "k3s");
    copyFileSync("/bin/true", fake);
    const b = await buildK3sModule({
      binary: fake,
      arch: hostArch,
      outDir: join(work, "out"),
      version: "v1.30.4+k3s1",
    });
    expect(b.manifest).toMatchObject({ name: "k3s", version: "v1.30.4+k3s1", arch: hostArch, priority: 50 });
    const exec = createExec();
    const v = await exec.run("veritysetup", [
      "verify",
      b.files.blob,
      b.files.verity,
      b.manifest.verityRootHash,
    ]);
    expect(v.exitCode).toBe(0);
    const ls = await exec.run("dump.erofs", ["--ls", "--path=/usr/local/bin", b.files.metadata]);
    // TYPE 1: regular file, 7: symlink.
    const entries = [...ls.stdout.matchAll(/^\s*\d+\s+(\d)\s+(\S+)$/gm)].map((m) => `${m[2]}:${m[1]}`);
    expect(entries.filter((e) => !e.startsWith("."))).toEqual(["crictl:7", "ctr:7", "k3s:1", "kubectl:7"]);
  }, 120_000);
});
