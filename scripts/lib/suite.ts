/**
 * One suite of `npm test`: a command whose output is streamed (progress) and parsed for pass/fail counts.
 */
import { execa } from "execa";

export interface SuiteResult {
  name: string;
  passed: number;
  failed: number;
  seconds: number;
  note?: string;
}

export interface SuiteSpec {
  name: string;
  cmd: string;
  args: string[];
  cwd?: string;
  env?: Record<string, string | undefined>;
  timeoutMs: number;
  /** How to read counts from the combined output; defaults to one check decided by the exit code. */
  parse?: (output: string) => { passed: number; failed: number } | undefined;
}

/** Counts from bun test's summary lines (" 12 pass", " 0 fail"). */
export function parseBunTest(output: string): { passed: number; failed: number } | undefined {
  const pass = [...output.matchAll(/^\s*(\d+) pass\s*$/gm)].at(-1)?.[1];
  const fail = [...output.matchAll(/^\s*(\d+) fail\s*$/gm)].at(-1)?.[1];
  if (pass === undefined || fail === undefined) return undefined;
  return { passed: Number(pass), failed: Number(fail) };
}

/** Counts from our own closing line "N passed, N failed" (smokes, benches, scripts). */
export function parseClosingLine(output: string): { passed: number; failed: number } | undefined {
  const m = [...output.matchAll(/^(?:\w+:\s*)?(\d+) passed, (\d+) failed/gm)].at(-1);
  if (!m) return undefined;
  return { passed: Number(m[1]), failed: Number(m[2]) };
}

/**
 * Runs a suite. A non-zero exit with no failure counted still counts as one failure, so a crash,
 * a timeout or an unparsable summary can never pass silently.
 */
export async function runSuite(spec: SuiteSpec): Promise<SuiteResult> {
  const started = performance.now();
  process.stdout.write(`\n=== ${spec.name}: ${spec.cmd} ${spec.args.join(" ")}\n`);
  const r = await execa(spec.cmd, spec.args, {
    cwd: spec.cwd,
    env: { ...process.env, ...spec.env },
    timeout: spec.timeoutMs,
    reject: false,
    all: true,
    stdout: ["pipe", "inherit"],
    stderr: ["pipe", "inherit"],
    stdin: "ignore",
  });
  const seconds = (performance.now() - started) / 1000;
  const output = String(r.all ?? "");
  const counts = spec.parse ? spec.parse(output) : undefined;
  const ok = r.exitCode === 0 && !r.timedOut;
  if (!counts) {
    return {
      name: spec.name,
      passed: ok ? 1 : 0,
      failed: ok ? 0 : 1,
      seconds,
      note: r.timedOut ? `timed out after ${spec.timeoutMs / 1000} s` : ok ? undefined : `exit ${r.exitCode}`,
    };
  }
  if (!ok && counts.failed === 0) {
    const why = r.timedOut
      ? `timed out after ${spec.timeoutMs / 1000} s`
      : `exit ${r.exitCode} with no failed test`;
    return { name: spec.name, passed: counts.passed, failed: 1, seconds, note: why };
  }
  return { name: spec.name, passed: counts.passed, failed: counts.failed, seconds };
}
