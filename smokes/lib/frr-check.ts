/**
 * FRR's own parser for a compiled frr.conf: `vtysh --dryrun -f` from the Debian packages the built
 * `frr` module ships (the same versions nodes run), unpacked on the host and run with their libraries.
 * vtysh knows every daemon's commands, so a line no daemon accepts fails the check (exit 2).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BOOKWORM_SUITES, type DebPackage, extractDeb, fetchDebs, loadAptIndex } from "@powernode/debian";
import { createExec } from "@powernode/exec";
import type { BuiltModule } from "../../hub/src/modules/index.ts";

export interface FrrChecker {
  /** FRR's verdict on `config`: ok, with vtysh's output (the offending lines when not ok). */
  check(config: string): Promise<{ ok: boolean; output: string }>;
  close(): void;
}

/** Unpacks the module's packages (amd64 host) into a temp root; `check` runs its vtysh there. */
export async function frrChecker(frr: BuiltModule): Promise<FrrChecker> {
  const exec = createExec();
  const wanted = (frr.manifest.source.packages ?? "").split(" ").filter((x) => x !== "");
  const index = await loadAptIndex(exec, "amd64", { suites: BOOKWORM_SUITES });
  const pkgs: DebPackage[] = wanted.map((nv) => {
    const [name = "", version = ""] = nv.split("=");
    const p = index.find(name, version);
    if (!p) throw new Error(`${nv} (amd64) is not in the apt sources`);
    return p;
  });
  const root = mkdtempSync(join(tmpdir(), "frr-check-"));
  for (const deb of await fetchDebs(exec, pkgs)) await extractDeb(exec, deb, root);
  const lib = join(root, "usr/lib/x86_64-linux-gnu");
  const env = { ...process.env, LD_LIBRARY_PATH: `${lib}:${join(lib, "frr")}` };
  return {
    async check(config) {
      const file = join(root, "frr.conf");
      writeFileSync(file, config);
      const r = await exec.run(join(root, "usr/bin/vtysh"), ["--dryrun", "-f", file], {
        timeoutMs: 30_000,
        allowFailure: true,
        env,
      });
      const output = `${r.stdout}${r.stderr}`
        .split("\n")
        .filter((l) => l.trim() !== "" && !l.includes("vtysh.conf"))
        .join("\n");
      return { ok: r.exitCode === 0, output };
    },
    close: () => rmSync(root, { recursive: true, force: true }),
  };
}
