/**
 * The one way scripts/, smokes/ and bench/ run external commands: argv arrays (never a shell), a timeout
 * on every call, and errors that carry the command, exit code and the tail of stderr.
 */
import { execa } from "execa";

export interface ExecResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

export interface ExecOptions {
  cwd?: string;
  env?: Record<string, string | undefined>;
  input?: string;
  timeoutMs?: number;
  /** Run as this user (via runuser), e.g. "postgres", which refuses to run as root. */
  user?: string;
}

export class ExecError extends Error {
  constructor(
    readonly cmd: string,
    readonly args: readonly string[],
    readonly exitCode: number | undefined,
    readonly stderrTail: string,
    options?: ErrorOptions,
  ) {
    super(`${cmd} ${args.join(" ")}: exit ${exitCode ?? "?"}: ${stderrTail}`, options);
    this.name = "ExecError";
  }
}

/** Runs a command to completion; throws ExecError on a non-zero exit or a timeout. */
export async function run(cmd: string, args: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
  const [file, argv] = opts.user ? ["runuser", ["-u", opts.user, "--", cmd, ...args]] : [cmd, [...args]];
  const r = await execa(file, argv, {
    cwd: opts.cwd,
    env: opts.env,
    input: opts.input,
    timeout: opts.timeoutMs ?? 120_000,
    reject: false,
    stripFinalNewline: false,
  });
  const stdout = String(r.stdout ?? "");
  const stderr = String(r.stderr ?? "");
  if (r.exitCode !== 0 || r.timedOut) {
    const why = r.timedOut ? `timed out after ${opts.timeoutMs ?? 120_000} ms; ` : "";
    throw new ExecError(cmd, args, r.exitCode, why + stderr.slice(-4096));
  }
  return { stdout, stderr, exitCode: 0 };
}
