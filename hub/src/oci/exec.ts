/**
 * The typed execa wrapper the registry's tests use to drive outside clients (skopeo): argv arrays,
 * never a shell, a timeout on every call, errors carrying command, exit code and the stderr tail.
 */
import { execa } from "execa";

/** The result of a finished command. */
export interface ExecResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

/** Runs external commands. */
export interface Exec {
  run(
    cmd: string,
    args: readonly string[],
    opts?: { timeoutMs?: number; input?: string },
  ): Promise<ExecResult>;
}

/** A command that failed or timed out. */
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

/** Creates the execa-backed Exec (default timeout 60 s). */
export function createExeca(): Exec {
  return {
    async run(cmd, args, opts = {}) {
      const timeout = opts.timeoutMs ?? 60_000;
      const r = await execa(cmd, [...args], {
        timeout,
        reject: false,
        input: opts.input,
        stripFinalNewline: false,
      });
      const stdout = String(r.stdout ?? "");
      const stderr = String(r.stderr ?? "");
      if (r.exitCode !== 0 || r.timedOut) {
        const why = r.timedOut ? `timed out after ${timeout} ms; ` : "";
        throw new ExecError(cmd, args, r.exitCode, why + stderr.slice(-4096));
      }
      return { stdout, stderr, exitCode: 0 };
    },
  };
}
