/**
 * The one way the agent runs external commands: argv arrays (never a shell), a timeout on every call,
 * errors that carry the command, args, exit code and the tail of stderr. Secrets go on `input`.
 */
import { ExecError, execFailure } from "@powernode/composefs";
import { execa } from "execa";

export { ExecError };

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
        const failure = execFailure(cmd, args, { ...r, stderr }, timeoutMs);
        if (failure) throw failure;
        return { stdout, stderr, exitCode: 0 };
      } finally {
        if (pid !== undefined) children?.delete(pid);
      }
    },
  };
}
