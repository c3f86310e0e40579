/**
 * The QEMU provider's only door to processes: a typed execa wrapper for short commands (argv,
 * never a shell, always a timeout) and a detached spawn for the long-running QEMU itself.
 */
import { spawn } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { createExec, type Exec, ExecError, type ExecResult } from "@powernode/exec";

export { ExecError, type ExecResult };

/** A started background process. */
export interface Spawned {
  pid: number;
  /** Resolves with the exit code (or undefined when killed by a signal) once the process ends. */
  exited: Promise<number | undefined>;
}

/** Runs processes; injected so tests can record calls. */
export interface QemuExec {
  run: Exec["run"];
  /** Starts cmd in its own process group with stdout+stderr appended to logFile; survives our exit. */
  spawnDetached(cmd: string, args: readonly string[], logFile: string): Spawned;
}

/** The real QemuExec over execa. */
export function createQemuExec(): QemuExec {
  const shared = createExec();
  return {
    // Short commands go through the shared wrapper (argv only, timeout, stderr tail in errors).
    run: (cmd, args, opts) => shared.run(cmd, args, { timeoutMs: 60_000, ...opts }),
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
