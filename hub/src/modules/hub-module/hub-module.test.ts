/**
 * The powernode-hub module from a binary: the arch check, the default version, and a real build
 * (mkfs.erofs, veritysetup) with a stand-in executable (the builder does not look at the bytes; the
 * real compiled hub runs in pass 4's full tier).
 */
import { afterAll, expect, test } from "bun:test";
import { copyFileSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createExec } from "@powernode/exec";
import { MIGRATIONS_FOLDER } from "../../db/migrate.ts";
import { buildHubModule, hubModuleVersion } from "./hub-module.ts";

const work = mkdtempSync(join(tmpdir(), "pn-hub-module-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const hostArch = process.arch === "arm64" ? "arm64" : "amd64";
const otherArch = hostArch === "amd64" ? "arm64" : "amd64";

test("a binary of the other arch is refused", async () => {
  await expect(
    buildHubModule({ binary: process.execPath, arch: otherArch, outDir: join(work, "never") }),
  ).rejects.toThrow(new RegExp(`is an ${hostArch} binary, the module is for ${otherArch}`));
  await expect(
    buildHubModule({ binary: join(work, "absent"), arch: hostArch, outDir: work }),
  ).rejects.toThrow(/not a file/);
});

test("builds: binary, start script and every migration in /usr/lib/powernode-hub; the hub service", async () => {
  const fake = join(work, "powernode-hub");
  copyFileSync("/bin/true", fake);
  const b = await buildHubModule({ binary: fake, arch: hostArch, outDir: join(work, "out") });
  expect(b.manifest).toMatchObject({
    name: "powernode-hub",
    version: hubModuleVersion(fake),
    arch: hostArch,
    services: [{ name: "hub", exec: ["/usr/lib/powernode-hub/run"], restart: "always" }],
  });
  expect(b.manifest.version).toMatch(/^0\.1\.0\+g[0-9a-f]{12}$/);
  const exec = createExec();
  const ls = async (path: string) =>
    [
      ...(await exec.run("dump.erofs", ["--ls", `--path=${path}`, b.files.metadata])).stdout.matchAll(
        /^\s*\d+\s+\d\s+(\S+)$/gm,
      ),
    ]
      .map((m) => m[1] as string)
      .filter((e) => !e.startsWith("."));
  expect(await ls("/usr/lib/powernode-hub")).toEqual(["drizzle", "powernode-hub", "run"]);
  const sql = readdirSync(MIGRATIONS_FOLDER).filter((f) => f.endsWith(".sql"));
  expect((await ls("/usr/lib/powernode-hub/drizzle")).filter((f) => f.endsWith(".sql"))).toEqual(sql.sort());
  const v = await exec.run("veritysetup", [
    "verify",
    b.files.blob,
    b.files.verity,
    b.manifest.verityRootHash,
  ]);
  expect(v.exitCode).toBe(0);
}, 120_000);
