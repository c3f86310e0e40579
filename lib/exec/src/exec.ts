/**
 * The one way the repository runs external commands: argv arrays (never a shell), a timeout on every
 * call, and one error type that carries the command, arguments, exit code and the tail of stderr.
 * Private tools are resolved through {@link resolveCommand}. Injected everywhere as {@link Exec} so
 * tests can swap in a recording fake.
 */
import { execa } from "execa";
import { resolveCommand } from "./tools.ts";

/** Outcome of a finished command. */
export interface ExecResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

/** A finished command whose stdout was kept as bytes. */
export interface ExecBinaryResult extends ExecResult {
  stdoutBytes: Uint8Array;
}

/** Options for {@link Exec.run}. */
export interface ExecOptions {
  /** Written to stdin (secrets go here, never in args). */
  input?: string | Uint8Array;
  /** Default: the wrapper's (120 s unless created otherwise). */
  timeoutMs?: number;
  cwd?: string;
  /** Added to the process environment (or, with `cleanEnv`, the whole environment). */
  env?: Record<string, string | undefined>;
  cleanEnv?: boolean;
  signal?: AbortSignal;
  /** Return a non-zero exit as a result instead of throwing (a timeout still throws). */
  allowFailure?: boolean;
  /** Run as this user via runuser (e.g. "postgres", which refuses to run as root). */
  user?: string;
}

/** Runs external commands. */
export interface Exec {
  run(cmd: string, args: readonly string[], opts?: ExecOptions): Promise<ExecResult>;
}

/** An {@link Exec} that can also keep stdout as bytes (`xz -dc`, `zstd -c`). */
export interface BinaryExec extends Exec {
  runBinary(cmd: string, args: readonly string[], opts?: ExecOptions): Promise<ExecBinaryResult>;
}

/** Told about each child's pid while it runs (the agent's zombie reaper leaves those to their owner). */
export interface ChildTracker {
  add(pid: number): void;
  delete(pid: number): void;
}

/** A failed external command: command, arguments, exit code and the last 4 KiB of stderr. */
export class ExecError extends Error {
  readonly kind = "exec";
  constructor(
    readonly cmd: string,
    readonly args: readonly string[],
    readonly exitCode: number | undefined,
    readonly stderrTail: string,
    options?: ErrorOptions,
  ) {
    super(`${[cmd, ...args].join(" ")}: exit ${exitCode ?? "?"}: ${stderrTail}`, options);
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

/** How a wrapper is made. */
export interface CreateExecOptions {
  /** Timeout of a call that names none (default 120 s). */
  defaultTimeoutMs?: number;
  children?: ChildTracker;
}

/** The real {@link Exec} over execa. */
export function createExec(o: CreateExecOptions = {}): BinaryExec {
  const defaultTimeout = o.defaultTimeoutMs ?? 120_000;
  async function go(cmd: string, args: readonly string[], opts: ExecOptions, binary: boolean) {
    const timeout = opts.timeoutMs ?? defaultTimeout;
    const file = resolveCommand(cmd);
    const [bin, argv] = opts.user ? ["runuser", ["-u", opts.user, "--", file, ...args]] : [file, [...args]];
    const sub = execa(bin, argv, {
      input: opts.input,
      timeout,
      cwd: opts.cwd,
      env: opts.env,
      extendEnv: !opts.cleanEnv,
      cancelSignal: opts.signal,
      reject: false,
      stripFinalNewline: false,
      encoding: binary ? "buffer" : "utf8",
      maxBuffer: 1024 * 1024 * 1024,
    });
    const pid = sub.pid;
    if (pid !== undefined) o.children?.add(pid);
    try {
      const r = await sub;
      const stderr = typeof r.stderr === "string" ? r.stderr : new TextDecoder().decode(r.stderr);
      const failure = execFailure(cmd, args, { ...r, stderr }, timeout);
      // allowFailure turns a failure into a result (exit code -1 when it did not start); a timeout throws.
      if (failure && !(opts.allowFailure && !r.timedOut)) throw failure;
      return { stdout: r.stdout, stderr, exitCode: r.exitCode ?? -1 };
    } finally {
      if (pid !== undefined) o.children?.delete(pid);
    }
  }
  return {
    async run(cmd, args, opts = {}) {
      const r = await go(cmd, args, opts, false);
      const stdout = typeof r.stdout === "string" ? r.stdout : new TextDecoder().decode(r.stdout);
      return { stdout, stderr: r.stderr, exitCode: r.exitCode };
    },
    async runBinary(cmd, args, opts = {}) {
      const r = await go(cmd, args, opts, true);
      const bytes = typeof r.stdout === "string" ? new TextEncoder().encode(r.stdout) : r.stdout;
      return { stdout: "", stdoutBytes: bytes, stderr: r.stderr, exitCode: r.exitCode };
    },
  };
}
