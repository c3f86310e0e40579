/**
 * compileAgentBuild(): one agent binary for an arch and version, outside an image: what an operator
 * publishes for agent self-update (`pnctl agent publish`) and what the pass 1 smoke updates a node to.
 * Same Bun runtime (`.bun-version`, fetched once into the cache) and flags as the image's agent.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { cacheDir as userCacheDir } from "@powernode/exec";
import { compileAgent, fetchBunRuntime } from "./lib/agent.ts";
import { createExec } from "./lib/exec.ts";
import type { Arch } from "./versions.ts";

const REPO_ROOT = join(import.meta.dir, "..");

export interface AgentBuildOptions {
  arch: Arch;
  version: string;
  outDir: string;
  /** Default node-agent/src/main.ts. */
  entry?: string;
  cacheDir?: string;
}

/** Compiles the agent; returns the binary's path (`<outDir>/powernode-agent`). */
export async function compileAgentBuild(o: AgentBuildOptions): Promise<string> {
  const exec = createExec();
  const bunVersion = readFileSync(join(REPO_ROOT, ".bun-version"), "utf8").trim();
  const runtime = await fetchBunRuntime(exec, o.cacheDir ?? userCacheDir(), o.arch, bunVersion);
  return compileAgent(exec, {
    arch: o.arch,
    entry: o.entry ?? join(REPO_ROOT, "node-agent", "src", "main.ts"),
    outDir: o.outDir,
    runtime,
    cwd: REPO_ROOT,
    version: o.version,
  });
}

// `bun initramfs/agent-build.ts --arch amd64|arm64 --version V [--out DIR]`: prints the binary's path.
if (import.meta.main) {
  const { values } = (await import("node:util")).parseArgs({
    options: { arch: { type: "string" }, version: { type: "string" }, out: { type: "string" } },
  });
  const arch = values.arch ?? "amd64";
  if ((arch !== "amd64" && arch !== "arm64") || !values.version) {
    process.stderr.write("usage: bun initramfs/agent-build.ts --arch amd64|arm64 --version V [--out DIR]\n");
    process.exit(2);
  }
  const path = await compileAgentBuild({
    arch,
    version: values.version,
    outDir: values.out ?? `agent-${arch}`,
  });
  process.stdout.write(`${path}\n`);
}
