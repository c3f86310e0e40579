/**
 * Long-running commands (a DHCP server, a packet capture) through the same wrapper: argv only, output
 * appended to a log file, stopped by a signal with a deadline after which it is killed. The caller waits
 * for readiness on a named condition of its own (a pid file, a line in the log).
 */
import { closeSync, existsSync, openSync, readFileSync } from "node:fs";
import { execa } from "execa";
import { ExecError } from "./exec.ts";
import { resolveCommand } from "./tools.ts";

/** How a background command ended. */
export interface BackgroundExit {
  /** Undefined when a signal ended it. */
  exitCode: number | undefined;
  signal: string | undefined;
}

/** A started background command. */
export interface BackgroundProcess {
  pid: number;
  cmd: string;
  args: readonly string[];
  logFile: string;
  /** Resolves once the process has ended (never rejects). */
  exited: Promise<BackgroundExit>;
  /** False once the process has ended. */
  running(): boolean;
  /**
   * Sends `signal` (default SIGTERM), waits up to `timeoutMs` (default 5000) for the exit, then SIGKILL.
   * Idempotent; resolves with how it ended.
   */
  stop(opts?: { signal?: NodeJS.Signals; timeoutMs?: number }): Promise<BackgroundExit>;
  /** An ExecError naming the command, how it ended and the tail of its log (for "exited at start"). */
  failure(exit: BackgroundExit): ExecError;
}

/** Options of {@link startBackground}. */
export interface BackgroundOptions {
  /** stdout and stderr are appended here. */
  logFile: string;
  cwd?: string;
  env?: Record<string, string | undefined>;
  /** Aborting stops the process (SIGTERM). */
  signal?: AbortSignal;
}

function logTail(path: string): string {
  return existsSync(path) ? readFileSync(path, "utf8").slice(-4096) : "";
}

/**
 * Starts `cmd args` in the background.
 * @example
 * const p = startBackground("tcpdump", ["-i", "br0", "-U", "-w", file], { logFile });
 * // ... wait for "listening on" in logFile ...
 * await p.stop({ signal: "SIGINT" });
 */
export function startBackground(
  cmd: string,
  args: readonly string[],
  opts: BackgroundOptions,
): BackgroundProcess {
  closeSync(openSync(opts.logFile, "a")); // exists on return: callers poll it for readiness
  const out = { file: opts.logFile, append: true } as const;
  const sub = execa(resolveCommand(cmd), [...args], {
    stdin: "ignore",
    stdout: out,
    stderr: out,
    cwd: opts.cwd,
    env: opts.env,
    cancelSignal: opts.signal,
    reject: false,
    forceKillAfterDelay: false,
  });
  const pid = sub.pid;
  let ended: BackgroundExit | undefined;
  const exited: Promise<BackgroundExit> = sub.then(
    (r) => {
      ended = { exitCode: r.exitCode, signal: r.signal };
      return ended;
    },
    () => {
      ended = { exitCode: undefined, signal: undefined };
      return ended;
    },
  );
  const failure = (exit: BackgroundExit) =>
    new ExecError(
      cmd,
      args,
      exit.exitCode,
      `${exit.signal ? `ended by ${exit.signal}; ` : ""}log ${opts.logFile}: ${logTail(opts.logFile)}`,
    );
  if (pid === undefined) {
    // execa reports a spawn failure (command not found) on the promise; keep the process shape.
    return {
      pid: -1,
      cmd,
      args,
      logFile: opts.logFile,
      exited,
      running: () => false,
      stop: () => exited,
      failure,
    };
  }
  return {
    pid,
    cmd,
    args,
    logFile: opts.logFile,
    exited,
    running: () => ended === undefined,
    failure,
    async stop(o = {}) {
      if (ended) return ended;
      sub.kill(o.signal ?? "SIGTERM");
      const timeoutMs = o.timeoutMs ?? 5_000;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<"late">((resolve) => {
        timer = setTimeout(() => resolve("late"), timeoutMs);
      });
      const first = await Promise.race([exited, late]);
      clearTimeout(timer);
      if (first !== "late") return first;
      sub.kill("SIGKILL");
      return exited;
    },
  };
}
