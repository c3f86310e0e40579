import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type PublishEnv, startPublishEnv } from "../modules/test-env.ts";
import { runCli } from "./run.ts";

const work = mkdtempSync(join(tmpdir(), "pn-module-cli-"));
let env: PublishEnv;

async function pnctl(argv: string[], extraEnv: Record<string, string> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(
    argv,
    { POWERNODE_URL: env.hub.httpUrl, POWERNODE_TOKEN: env.token, ...extraEnv },
    {
      out: (l) => out.push(l),
      err: (l) => err.push(l),
    },
  );
  return { code, out: out.join("\n"), err: err.join("\n") };
}

beforeAll(async () => {
  env = await startPublishEnv();
}, 30_000);
afterAll(async () => {
  await env?.[Symbol.asyncDispose]();
  rmSync(work, { recursive: true, force: true });
});

describe("pnctl module", () => {
  test("build a rootfs dir, publish it, list the catalog; publish again is a no-op", async () => {
    const src = join(work, "rootfs");
    mkdirSync(join(src, "etc"), { recursive: true });
    writeFileSync(
      join(src, "etc/motd"),
      "hello from the cli test, longer than the inline limit of 64 bytes\n",
    );
    const out = join(work, "out");
    const b = await pnctl([
      "module",
      "build",
      src,
      "--name",
      "motd",
      "--version",
      "1.0",
      "--arch",
      "arm64",
      "--out",
      out,
    ]);
    expect(b).toMatchObject({ code: 0, err: "" });
    expect(b.out).toContain(`built motd 1.0 (arm64) in ${out}`);

    const p = await pnctl(["module", "publish", out]);
    expect(p).toMatchObject({ code: 0, err: "" });
    expect(p.out).toContain("result:         published");
    expect(p.out).toContain("/modules/motd:1.0-arm64");
    const again = await pnctl(["module", "publish", out]);
    expect(again.out).toContain("already published (no change)");

    const ls = await pnctl(["module", "ls"]);
    expect(ls.code).toBe(0);
    expect(ls.out.split("\n")[0]).toMatch(
      /^NAME\s+PRIO\s+VERSION\s+ARCH\s+METADATA\s+BLOB\s+FS-VERITY\s+OCI$/,
    );
    expect(ls.out).toMatch(/motd\s+10\s+1\.0\s+arm64/);
    const lsJson = JSON.parse((await pnctl(["module", "ls", "--json"])).out) as {
      name: string;
      ociDigest: string;
    }[];
    expect(lsJson[0]).toMatchObject({ name: "motd" });
    expect(lsJson[0]?.ociDigest).toMatch(/^sha256:/);
  }, 30_000);

  test("build k3s: from POWERNODE_K3S_BINARY, or an error saying to set it", async () => {
    const unset = await pnctl(["module", "build", "k3s"], { POWERNODE_K3S_BINARY: "" });
    expect(unset.code).toBe(1);
    expect(unset.err).toStartWith("pnctl: POWERNODE_K3S_BINARY is unset: set it to a k3s binary for amd64");
    const out = join(work, "k3s-out");
    const arch = process.arch === "arm64" ? "arm64" : "amd64";
    const argv = ["module", "build", "k3s", "--arch", arch, "--version", "v1.30.4+k3s1", "--out", out];
    // Any executable of the host's arch stands in for k3s (this machine has none).
    const b = await pnctl(argv, { POWERNODE_K3S_BINARY: process.execPath });
    expect(b).toMatchObject({ code: 0, err: "" });
    expect(b.out).toContain(`built k3s v1.30.4+k3s1 (${arch}) in ${out}`);
  }, 60_000);

  test("clear errors: usage, missing input, not a build dir, wrong token, unreachable hub", async () => {
    expect(await pnctl(["module", "build"])).toMatchObject({
      code: 2,
      err: "pnctl: module build: missing <recipe.json|dir|tar>",
    });
    expect(await pnctl(["module", "build", work])).toMatchObject({
      code: 2,
      err: "pnctl: module build: a rootfs dir or tar needs --name and --version",
    });
    expect((await pnctl(["module", "build", join(work, "nope")])).err).toBe(
      `pnctl: module build: ${join(work, "nope")} does not exist`,
    );
    expect((await pnctl(["module", "build", work, "--arch", "riscv64"])).err).toBe(
      'pnctl: --arch: "riscv64" is not amd64 or arm64',
    );
    expect(await pnctl(["module", "publish", work])).toMatchObject({
      code: 1,
      err: `pnctl: ${work}: no module.json (not a module build directory)`,
    });
    const wrong = await pnctl(["module", "ls"], { POWERNODE_TOKEN: "pna_wrong" });
    expect(wrong.code).toBe(1);
    expect(wrong.err).toStartWith(`pnctl: hub at ${env.hub.httpUrl} rejected the token`);
    const down = await pnctl(["module", "ls"], { POWERNODE_URL: "http://127.0.0.1:1" });
    expect(down.err).toStartWith("pnctl: cannot reach hub at http://127.0.0.1:1");
    expect((await pnctl(["module", "frob"])).code).toBe(2);
  }, 30_000);

  test("registered in pnctl: runCli dispatches the module group and lists it in the usage", async () => {
    const out: string[] = [];
    const io = { out: (l: string) => out.push(l), err: (l: string) => out.push(l) };
    const env2 = { POWERNODE_URL: env.hub.httpUrl, POWERNODE_TOKEN: env.token };
    expect(await runCli(["module", "ls", "--json"], env2, io)).toBe(0);
    expect(JSON.parse(out.join("\n"))).toBeInstanceOf(Array);
    out.length = 0;
    expect(await runCli(["--help", "x"], env2, io)).toBe(0);
    expect(out.join("\n")).toContain("module publish <build dir> [--registry URL");
  }, 30_000);
});
