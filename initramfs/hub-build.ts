/**
 * compileHubBuild(): the hub as one Bun-compiled binary for an arch (what the powernode-hub module
 * ships), with the same Bun runtime and flags as the agent. The binary finds its migrations through
 * POWERNODE_MIGRATIONS_DIR (the module ships them beside it).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { cacheDir as userCacheDir } from "@powernode/exec";
import { compileAgent, fetchBunRuntime } from "./lib/agent.ts";
import { createExec } from "./lib/exec.ts";
import type { Arch } from "./versions.ts";

const REPO_ROOT = join(import.meta.dir, "..");

/** Compiles hub/src/main.ts; returns the binary's path (`<outDir>/powernode-hub`). */
export async function compileHubBuild(o: { arch: Arch; outDir: string; cacheDir?: string }): Promise<string> {
  const exec = createExec();
  const bunVersion = readFileSync(join(REPO_ROOT, ".bun-version"), "utf8").trim();
  const runtime = await fetchBunRuntime(exec, o.cacheDir ?? userCacheDir(), o.arch, bunVersion);
  return compileAgent(exec, {
    arch: o.arch,
    entry: join(REPO_ROOT, "hub", "src", "main.ts"),
    outDir: o.outDir,
    outName: "powernode-hub",
    runtime,
    cwd: REPO_ROOT,
    version: "hub",
  });
}

// `bun initramfs/hub-build.ts --arch amd64|arm64 [--out DIR]`: prints the binary's path.
if (import.meta.main) {
  const { values } = (await import("node:util")).parseArgs({
    options: { arch: { type: "string" }, out: { type: "string" } },
  });
  const arch = values.arch ?? "amd64";
  if (arch !== "amd64" && arch !== "arm64") {
    process.stderr.write("usage: bun initramfs/hub-build.ts --arch amd64|arm64 [--out DIR]\n");
    process.exit(2);
  }
  process.stdout.write(`${await compileHubBuild({ arch, outDir: values.out ?? `hub-${arch}` })}\n`);
}
