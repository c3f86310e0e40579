/**
 * The zombie reaper PID 1 needs. The kernel reparents orphans to PID 1 (or to the nearest subreaper);
 * when they exit they stay zombies until their new parent waits for them.
 *
 * Why not `waitpid(-1, WNOHANG)`: Bun waits for the children it spawned itself (execa, Bun.spawn) by
 * pid; a blanket `waitpid(-1)` would steal their exit status and the spawning code would hang or see
 * a wrong result. So each pass scans /proc for zombies whose parent is this process and that it did not
 * spawn itself (the `owned` set, fed by `createExeca(reaper.owned)`), and waits for those by pid.
 */
import { LibcError, WNOHANG, waitpid } from "./libc.ts";
import { listZombies } from "./proc.ts";

export interface Reaper {
  /** Pids this process spawned itself (left to Bun). */
  readonly owned: Set<number>;
  /** One pass: reaps every adopted zombie now; returns the pids reaped. */
  reapOnce(): number[];
  /** Total reaped since start. */
  reaped(): number;
  stop(): void;
}

export interface ReaperOptions {
  /** How often to scan (also on SIGCHLD where Bun delivers it). Default 1000 ms. */
  intervalMs?: number;
  procRoot?: string;
  /** The owned-pid set to use (share it with `createExeca` before the reaper starts). */
  owned?: Set<number>;
  /** Called for each reaped orphan (for logging). */
  onReap?: (pid: number, comm: string, status: number) => void;
}

/** Starts reaping adopted zombies of this process on a timer. */
export function startReaper(opts: ReaperOptions = {}): Reaper {
  const owned = opts.owned ?? new Set<number>();
  const self = process.pid;
  let total = 0;
  const reapOnce = (): number[] => {
    const done: number[] = [];
    for (const z of listZombies(opts.procRoot, self)) {
      if (owned.has(z.pid)) continue;
      try {
        const r = waitpid(z.pid, WNOHANG);
        if (r.pid === z.pid) {
          done.push(z.pid);
          total++;
          opts.onReap?.(z.pid, z.comm, r.status);
        }
      } catch (err) {
        // ECHILD: someone else (Bun) waited for it between the scan and now; nothing left to do.
        if (!(err instanceof LibcError && err.errno === 10)) throw err;
      }
    }
    return done;
  };
  const timer = setInterval(reapOnce, opts.intervalMs ?? 1000);
  timer.unref?.();
  const onSigchld = () => reapOnce();
  process.on("SIGCHLD", onSigchld);
  return {
    owned,
    reapOnce,
    reaped: () => total,
    stop() {
      clearInterval(timer);
      process.off("SIGCHLD", onSigchld);
    },
  };
}
