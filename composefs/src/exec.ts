/**
 * The composefs package's only way to run external commands (erofs-utils, veritysetup, mount): argv arrays,
 * never a shell, a timeout on every call, and errors that carry the command, exit code and stderr tail.
 */
import { execa } from "execa";

/** Outcome of a finished command. */
export interface ExecResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

/** Options for {@link Exec.run}. */
export interface ExecOptions {
  input?: string | Uint8Array;
  timeoutMs?: number;
  cwd?: string;
  /** Return a non-zero exit as a result instead of throwing. */
  allowFailure?: boolean;
}

/** Runs external commands; injected so tests can substitute a recording fake. */
export interface Exec {
  run(cmd: string, args: readonly string[], opts?: ExecOptions): Promise<ExecResult>;
}

/**
 * A failed external command: command, arguments, exit code and the last 4 KiB of stderr. The one error
 * type of every execa wrapper in the repo (hub, agent, image builder and scripts use this one).
 */
export class ExecError extends Error {
  readonly kind = "exec";
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

/** What an execa result says about how a command ended (the fields {@link execFailure} reads). */
export interface ExecOutcome {
  exitCode?: number;
  timedOut?: boolean;
  isCanceled?: boolean;
  cause?: unknown;
  shortMessage?: string;
  stderr: string;
}

/**
 * The ExecError for a command that did not exit 0: why (timeout, cancel, failed to start) first, then
 * the last 4 KiB of stderr. Undefined when it did exit 0.
 */
export function execFailure(
  cmd: string,
  args: readonly string[],
  r: ExecOutcome,
  timeoutMs: number,
): ExecError | undefined {
  if (r.exitCode === 0 && !r.timedOut && !r.isCanceled) return undefined;
  const why = r.timedOut
    ? `timed out after ${timeoutMs} ms; `
    : r.isCanceled
      ? "cancelled; "
      : r.exitCode === undefined
        ? `${r.cause instanceof Error ? r.cause.message : (r.shortMessage ?? "failed to start")}; `
        : "";
  return new ExecError(cmd, args, r.exitCode, why + r.stderr.slice(-4096));
}

/** Creates the real {@link Exec} over execa. */
export function createExeca(): Exec {
  return {
    async run(cmd, args, opts = {}) {
      const timeout = opts.timeoutMs ?? 120_000;
      const r = await execa(cmd, [...args], {
        input: opts.input,
        timeout,
        cwd: opts.cwd,
        reject: false,
        stripFinalNewline: false,
        encoding: "utf8",
      });
      const stdout = String(r.stdout ?? "");
      const stderr = String(r.stderr ?? "");
      const exitCode = r.exitCode ?? -1;
      const failure = execFailure(cmd, args, { ...r, stderr }, timeout);
      // allowFailure turns a failure into a result (exit code -1 when it did not start); a timeout throws.
      if (failure && !(opts.allowFailure && !r.timedOut)) throw failure;
      return { stdout, stderr, exitCode };
    },
  };
}
