/**
 * The one way scripts/, smokes/ and bench/ run external commands: argv arrays (never a shell), a timeout
 * on every call, and errors that carry the command, exit code and the tail of stderr.
 */
import { execa } from "execa";
import { ExecError, type ExecResult, execFailure } from "../../composefs/src/exec.ts";

export { ExecError, type ExecResult };

export interface ExecOptions {
  cwd?: string;
  env?: Record<string, string | undefined>;
  input?: string;
  timeoutMs?: number;
  /** Run as this user (via runuser), e.g. "postgres", which refuses to run as root. */
  user?: string;
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
  const failure = execFailure(cmd, args, { ...r, stderr }, opts.timeoutMs ?? 120_000);
  if (failure) throw failure;
  return { stdout, stderr, exitCode: 0 };
}
