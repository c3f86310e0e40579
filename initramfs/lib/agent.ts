/**
 * The node agent binary: `bun build --compile` of node-agent/src/main.ts for the target arch,
 * embedding a Bun runtime fetched as an npm package (`npm pack`) so cross-compiling never
 * depends on bun's own download cache.
 */
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { type Arch, BUN_RUNTIME_PACKAGE, BUN_TARGET } from "../versions.ts";
import type { Exec } from "./exec.ts";

/**
 * Returns the path of the Bun runtime binary for arch, fetching `<pkg>@<version>` once into
 * `<cacheDir>/bun/` (a per-process temp dir renamed into place: every clone on the machine shares the cache).
 */
export async function fetchBunRuntime(
  exec: Exec,
  cacheDir: string,
  arch: Arch,
  version: string,
): Promise<string> {
  const pkg = BUN_RUNTIME_PACKAGE[arch];
  const dir = join(cacheDir, "bun", `${pkg.replace("@oven/", "")}-${version}`);
  const bin = join(dir, "package", "bin", "bun");
  if (existsSync(bin)) return bin;
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  try {
    await exec.run("npm", ["pack", "--silent", `${pkg}@${version}`, "--pack-destination", tmp], {
      timeoutMs: 600_000,
    });
    const tgz = readdirSync(tmp).find((f) => f.endsWith(".tgz"));
    if (!tgz) throw new Error(`npm pack ${pkg}@${version}: no tarball in ${tmp}`);
    await exec.run("tar", ["-xzf", join(tmp, tgz), "-C", tmp], { timeoutMs: 120_000 });
    if (!existsSync(join(tmp, "package", "bin", "bun")))
      throw new Error(`npm pack ${pkg}@${version}: package/bin/bun missing after unpacking`);
    if (existsSync(bin)) return bin; // another build finished first
    rmSync(dir, { recursive: true, force: true });
    renameSync(tmp, dir);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return bin;
}

export interface CompileAgentOptions {
  arch: Arch;
  /** The agent entry point, e.g. `<repo>/node-agent/src/main.ts`. */
  entry: string;
  /** Where to write `powernode-agent` (the file name is fixed: bun embeds it, and we want identical bytes). */
  outDir: string;
  /** The Bun runtime binary of the target arch (fetchBunRuntime). */
  runtime: string;
  /** The bun that compiles (defaults to the running one). */
  bun?: string;
  cwd: string;
  /** Baked in as `process.env.POWERNODE_AGENT_VERSION` (what the agent reports to the hub). */
  version: string;
  /** The binary's file name; default `powernode-agent` (the hub module's build compiles the hub too). */
  outName?: string;
}

/** Compiles the agent; returns the binary's path. Same sources + runtime give the same bytes. */
export async function compileAgent(exec: Exec, o: CompileAgentOptions): Promise<string> {
  mkdirSync(o.outDir, { recursive: true });
  const out = join(o.outDir, o.outName ?? "powernode-agent");
  await exec.run(
    o.bun ?? process.execPath,
    [
      "build",
      "--compile",
      `--target=${BUN_TARGET[o.arch]}`,
      `--compile-executable-path=${o.runtime}`,
      // Precompiled bytecode: Bun starts ~1 s sooner under TCG (measured in docs/agent.md).
      "--bytecode",
      `--define=process.env.POWERNODE_AGENT_VERSION=${JSON.stringify(o.version)}`,
      // PID 1 must not pick up a stray .env or bunfig.toml from its working directory.
      "--no-compile-autoload-dotenv",
      "--no-compile-autoload-bunfig",
      o.entry,
      "--outfile",
      out,
    ],
    { cwd: o.cwd, timeoutMs: 300_000 },
  );
  return out;
}
