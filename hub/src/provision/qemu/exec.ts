/**
 * The QEMU provider's only door to processes: a typed execa wrapper for short commands (argv,
 * never a shell, always a timeout) and a detached spawn for the long-running QEMU itself.
 */
import { spawn } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { execa } from "execa";

export interface ExecResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

/** A command that failed or timed out: command, args, exit code and the tail of stderr. */
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

/** A started background process. */
export interface Spawned {
  pid: number;
  /** Resolves with the exit code (or undefined when killed by a signal) once the process ends. */
  exited: Promise<number | undefined>;
}

/** Runs processes; injected so tests can record calls. */
export interface QemuExec {
  run(
    cmd: string,
    args: readonly string[],
    opts?: { input?: string; timeoutMs?: number },
  ): Promise<ExecResult>;
  /** Starts cmd in its own process group with stdout+stderr appended to logFile; survives our exit. */
  spawnDetached(cmd: string, args: readonly string[], logFile: string): Spawned;
}

/** The real QemuExec over execa. */
export function createQemuExec(): QemuExec {
  return {
    async run(cmd, args, opts = {}) {
      const timeout = opts.timeoutMs ?? 60_000;
      const r = await execa(cmd, [...args], {
        input: opts.input,
        timeout,
        reject: false,
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
    spawnDetached(cmd, args, logFile) {
      // execa waits for and buffers its children; a VM outlives the call (and the hub), so this one
      // long-running process uses child_process directly, still argv-only.
      const fd = openSync(logFile, "a", 0o600);
      try {
        const child = spawn(cmd, [...args], { detached: true, stdio: ["ignore", fd, fd] });
        if (child.pid === undefined) throw new Error(`spawning ${cmd}: no pid`);
        const exited = new Promise<number | undefined>((resolve) => {
          child.once("exit", (code) => resolve(code ?? undefined));
          child.once("error", () => resolve(undefined));
        });
        child.unref();
        return { pid: child.pid, exited };
      } finally {
        closeSync(fd); // the child holds its own copy
      }
    },
  };
}
