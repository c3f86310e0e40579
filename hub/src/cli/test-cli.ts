/** For the CLI's tests: `pnctl --url <hub> ...` in process with the hub's operator token, output captured. */
import type { RunningHub } from "../hub.ts";
import { runCli } from "./run.ts";

export interface CliRun {
  code: number;
  out: string;
  err: string;
}

/** A `pnctl` against `hub()` (a function: the hub is usually started in beforeAll), with extra `env`. */
export function cliFor(
  hub: () => RunningHub,
  env: Record<string, string> = {},
): (...argv: string[]) => Promise<CliRun> {
  return (...argv) => {
    const h = hub();
    return cliAt(h.httpUrl, { POWERNODE_TOKEN: h.adminToken, ...env })(...argv);
  };
}

/** A `pnctl --url <url>` with `env` (token, CA file, ...): a hub that is not in this process. */
export function cliAt(url: string, env: Record<string, string>): (...argv: string[]) => Promise<CliRun> {
  return async (...argv) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runCli(["--url", url, ...argv], env, {
      out: (l) => out.push(l),
      err: (l) => err.push(l),
    });
    return { code, out: out.join("\n"), err: err.join("\n") };
  };
}
