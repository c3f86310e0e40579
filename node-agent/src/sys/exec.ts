/**
 * The one way the agent runs external commands: the shared wrapper of `@powernode/exec` (argv arrays,
 * never a shell, a timeout on every call, errors with the command, args, exit code and stderr tail),
 * with a 30 s default, every child's pid told to the zombie reaper, and `env` as the whole environment.
 * Secrets go on `input`.
 */
import { type ChildTracker, createExec, ExecError, type ExecResult } from "@powernode/exec";

export { type ChildTracker, ExecError, type ExecResult };

/** Options of an agent command: `env` replaces the environment instead of extending it. */
export interface ExecOptions {
  /** Written to the child's stdin (secrets go here, never in args). */
  input?: string;
  signal?: AbortSignal;
  /** Default 30 s. */
  timeoutMs?: number;
  env?: Record<string, string>;
  /** Return a non-zero exit as a result instead of throwing (busybox ping exits 1 when nothing answered). */
  allowFailure?: boolean;
}

/** Runs commands; injected everywhere so tests can use {@link createRecordingExecFake}. */
export interface Exec {
  run(cmd: string, args: readonly string[], opts?: ExecOptions): Promise<ExecResult>;
}

/** The execa-backed {@link Exec}. `children` (the reaper's owned-pid set) is told about every child. */
export function createExeca(children?: ChildTracker): Exec {
  const shared = createExec({ defaultTimeoutMs: 30_000, ...(children ? { children } : {}) });
  return {
    run: (cmd, args, opts = {}) => shared.run(cmd, args, { ...opts, cleanEnv: opts.env !== undefined }),
  };
}
