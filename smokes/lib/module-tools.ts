/**
 * A built Debian module's programs on the host: its packages (the exact versions it ships, from its
 * manifest) unpacked into a temp root and run with their own libraries. For checking what the hub
 * compiles against the real tool (FRR's parser, ovn-nbctl) in the db tier, without booting a node.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BOOKWORM_SUITES, type DebPackage, extractDeb, fetchDebs, loadAptIndex } from "@powernode/debian";
import { createExec, type Exec, type ExecResult } from "@powernode/exec";
import type { BuiltModule } from "../../hub/src/modules/index.ts";

export interface ModuleTools {
  root: string;
  exec: Exec;
  /** The environment its programs run with (LD_LIBRARY_PATH to its libraries). */
  env: Record<string, string | undefined>;
  /** Runs `<root><program>`; never throws for a non-zero exit. */
  run(program: string, args: readonly string[], timeoutMs?: number): Promise<ExecResult>;
  close(): void;
}

/** Unpacks the module's packages (amd64: the host's arch) into a temp root. */
export async function moduleTools(built: BuiltModule): Promise<ModuleTools> {
  const exec = createExec();
  const wanted = (built.manifest.source.packages ?? "").split(" ").filter((x) => x !== "");
  const index = await loadAptIndex(exec, "amd64", { suites: BOOKWORM_SUITES });
  const pkgs: DebPackage[] = wanted.map((nv) => {
    const [name = "", version = ""] = nv.split("=");
    const p = index.find(name, version);
    if (!p) throw new Error(`${nv} (amd64) is not in the apt sources`);
    return p;
  });
  const root = mkdtempSync(join(tmpdir(), `${built.manifest.name}-tools-`));
  for (const deb of await fetchDebs(exec, pkgs)) await extractDeb(exec, deb, root);
  const lib = join(root, "usr/lib/x86_64-linux-gnu");
  const env = {
    ...process.env,
    LD_LIBRARY_PATH: `${lib}:${join(lib, built.manifest.name)}:${join(root, "lib/x86_64-linux-gnu")}`,
  };
  return {
    root,
    exec,
    env,
    run: (program, args, timeoutMs = 30_000) =>
      exec.run(join(root, program), [...args], { timeoutMs, allowFailure: true, env }),
    close: () => rmSync(root, { recursive: true, force: true }),
  };
}
