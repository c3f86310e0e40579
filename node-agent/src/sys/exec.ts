/**
 * The one way the agent runs external commands: argv arrays (never a shell), a timeout on every call,
 * errors that carry the command, args, exit code and the tail of stderr. Secrets go on `input`.
 */
import { execa } from "execa";

export interface ExecResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

export interface ExecOptions {
  /** Written to the child's stdin (secrets go here, never in args). */
  input?: string;
  signal?: AbortSignal;
  /** Default 30 s. */
  timeoutMs?: number;
  env?: Record<string, string>;
}

/** Runs commands; injected everywhere so tests can use {@link createRecordingExecFake}. */
export interface Exec {
  run(cmd: string, args: readonly string[], opts?: ExecOptions): Promise<ExecResult>;
}

/** A command that failed to start, exited non-zero or timed out. */
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

/** Listener told about each child's pid while it runs, so the zombie reaper leaves it to its owner. */
export interface ChildTracker {
  add(pid: number): void;
  delete(pid: number): void;
}

/** The execa-backed {@link Exec}. `children` (the reaper's owned-pid set) is told about every child. */
export function createExeca(children?: ChildTracker): Exec {
  return {
    async run(cmd, args, opts = {}) {
      const timeoutMs = opts.timeoutMs ?? 30_000;
      const sub = execa(cmd, [...args], {
        input: opts.input,
        cancelSignal: opts.signal,
        timeout: timeoutMs,
        env: opts.env,
        extendEnv: opts.env === undefined,
        reject: false,
        stripFinalNewline: false,
      });
      const pid = sub.pid;
      if (pid !== undefined) children?.add(pid);
      try {
        const r = await sub;
        const stdout = String(r.stdout ?? "");
        const stderr = String(r.stderr ?? "");
        if (r.failed || r.exitCode !== 0) {
          const why = r.timedOut ? `timed out after ${timeoutMs} ms; ` : r.isCanceled ? "cancelled; " : "";
          const startErr = r.exitCode === undefined && r.cause instanceof Error ? `${r.cause.message}; ` : "";
          throw new ExecError(cmd, args, r.exitCode, why + startErr + stderr.slice(-4096));
        }
        return { stdout, stderr, exitCode: 0 };
      } finally {
        if (pid !== undefined) children?.delete(pid);
      }
    },
  };
}
