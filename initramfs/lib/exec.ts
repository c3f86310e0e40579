/**
 * The one way initramfs/ runs external commands: argv arrays (never a shell), a timeout on every
 * call, and errors that carry the command, exit code and the tail of stderr. Same shape as
 * scripts/lib/exec.ts; injected so tests can record calls.
 */
import { ExecError, type ExecResult, execFailure } from "@powernode/composefs";
import { execa } from "execa";

export { ExecError, type ExecResult };

export interface ExecOptions {
  cwd?: string;
  env?: Record<string, string | undefined>;
  input?: string | Uint8Array;
  timeoutMs?: number;
  /** Return stdout as bytes (e.g. `xz -dc`), available as `stdoutBytes`. */
  binary?: boolean;
}

export interface ExecBinaryResult extends ExecResult {
  stdoutBytes: Uint8Array;
}

/** Runs external commands; the real one is createExec(), tests may swap in a recording fake. */
export interface Exec {
  run(cmd: string, args: readonly string[], opts?: ExecOptions): Promise<ExecResult>;
  runBinary(cmd: string, args: readonly string[], opts?: ExecOptions): Promise<ExecBinaryResult>;
}

const DEFAULT_TIMEOUT_MS = 300_000;

/** The real Exec over execa. */
export function createExec(): Exec {
  async function go(cmd: string, args: readonly string[], opts: ExecOptions, binary: boolean) {
    const timeout = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const r = await execa(cmd, [...args], {
      cwd: opts.cwd,
      env: opts.env,
      input: opts.input,
      timeout,
      reject: false,
      stripFinalNewline: false,
      encoding: binary ? "buffer" : "utf8",
      maxBuffer: 1024 * 1024 * 1024,
    });
    const stderr = typeof r.stderr === "string" ? r.stderr : new TextDecoder().decode(r.stderr);
    const failure = execFailure(cmd, args, { ...r, stderr }, timeout);
    if (failure) throw failure;
    return { stdout: r.stdout, stderr };
  }
  return {
    async run(cmd, args, opts = {}) {
      const r = await go(cmd, args, opts, false);
      const stdout = typeof r.stdout === "string" ? r.stdout : new TextDecoder().decode(r.stdout);
      return { stdout, stderr: r.stderr, exitCode: 0 };
    },
    async runBinary(cmd, args, opts = {}) {
      const r = await go(cmd, args, opts, true);
      const bytes = typeof r.stdout === "string" ? new TextEncoder().encode(r.stdout) : r.stdout;
      return { stdout: "", stdoutBytes: bytes, stderr: r.stderr, exitCode: 0 };
    },
  };
}
