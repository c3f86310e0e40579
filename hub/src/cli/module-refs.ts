/**
 * Module references on the command line: `<module>[@<version>]` positionals, and their service
 * environment from `--env <module>.<NAME>=<value>` and `--env-file <module>=<file>` (KEY=VALUE lines;
 * `#` comments and blank lines skipped): a file keeps values such as tokens out of the shell history.
 */
import { readFileSync } from "node:fs";
import { flagValues, type ParsedArgs } from "./args.ts";
import { UsageError } from "./shared.ts";

export interface CliModuleRef {
  name: string;
  version: string;
  env: Record<string, string>;
}

/** `KEY=VALUE` lines of an env file. */
export function parseEnvLines(text: string, where: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [i, raw] of text.split("\n").entries()) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const eq = line.indexOf("=");
    if (eq <= 0) throw new UsageError(`${where}:${i + 1}: not KEY=VALUE`);
    out[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return out;
}

/** The references `refs` with the environment the flags give them; an env for an unnamed module is an error. */
export function moduleRefsOf(refs: readonly string[], args: ParsedArgs): CliModuleRef[] {
  const mods = refs.map((ref) => {
    const at = ref.indexOf("@");
    return at < 0
      ? { name: ref, version: "", env: {} as Record<string, string> }
      : { name: ref.slice(0, at), version: ref.slice(at + 1), env: {} as Record<string, string> };
  });
  const byName = (name: string, what: string) => {
    const m = mods.find((x) => x.name === name);
    if (!m) throw new UsageError(`${what}: module ${JSON.stringify(name)} is not among the modules given`);
    return m;
  };
  for (const file of flagValues(args, "env-file")) {
    const eq = file.indexOf("=");
    if (eq <= 0) throw new UsageError(`--env-file ${file}: want <module>=<file>`);
    const path = file.slice(eq + 1);
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch (e) {
      throw new UsageError(`--env-file ${path}: ${(e as Error).message}`);
    }
    Object.assign(byName(file.slice(0, eq), `--env-file ${file}`).env, parseEnvLines(text, path));
  }
  for (const kv of flagValues(args, "env")) {
    const m = /^([a-z0-9-]+)\.([^=]+)=(.*)$/s.exec(kv);
    if (!m) throw new UsageError(`--env ${kv.slice(0, 40)}: want <module>.<NAME>=<value>`);
    byName(m[1] as string, `--env ${m[1]}.${m[2]}`).env[m[2] as string] = m[3] as string;
  }
  return mods;
}
