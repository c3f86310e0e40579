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

/** A failed external command: command, arguments, exit code and the last 4 KiB of stderr. */
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
      if (r.timedOut)
        throw new ExecError(cmd, args, r.exitCode, `timed out after ${timeout} ms; ${stderr.slice(-4096)}`);
      if (exitCode !== 0 && !opts.allowFailure) {
        const why = r.exitCode === undefined ? `${r.shortMessage ?? "failed to start"}; ` : "";
        throw new ExecError(cmd, args, r.exitCode, why + stderr.slice(-4096));
      }
      return { stdout, stderr, exitCode };
    },
  };
}
