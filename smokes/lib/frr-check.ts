/**
 * FRR's own parser for a compiled frr.conf: `vtysh --dryrun -f` from the Debian packages the built
 * `frr` module ships (the same versions nodes run), unpacked on the host (module-tools.ts). vtysh knows
 * every daemon's commands, so a line no daemon accepts fails the check (exit 2).
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { BuiltModule } from "../../hub/src/modules/index.ts";
import { moduleTools } from "./module-tools.ts";

export interface FrrChecker {
  /** FRR's verdict on `config`: ok, with vtysh's output (the offending lines when not ok). */
  check(config: string): Promise<{ ok: boolean; output: string }>;
  close(): void;
}

export async function frrChecker(frr: BuiltModule): Promise<FrrChecker> {
  const tools = await moduleTools(frr);
  return {
    async check(config) {
      const file = join(tools.root, "frr.conf");
      writeFileSync(file, config);
      const r = await tools.run("usr/bin/vtysh", ["--dryrun", "-f", file]);
      const output = `${r.stdout}${r.stderr}`
        .split("\n")
        .filter((l) => l.trim() !== "" && !l.includes("vtysh.conf"))
        .join("\n");
      return { ok: r.exitCode === 0, output };
    },
    close: tools.close,
  };
}
