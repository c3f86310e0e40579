/**
 * Supervises the services the mounted modules declare, inside one composed root: each runs chrooted,
 * its output goes to the console prefixed `[<module>/<service>]`, and it is restarted per its policy
 * with backoff (1 s doubling to 30 s; reset after 60 s of running).
 */
import type { ModuleService } from "@powernode/oci";
import type { Log } from "../../log.ts";
import type { ModuleSys, ServiceProcess } from "../../sys/module-sys.ts";

export interface SupervisedService {
  module: string;
  service: ModuleService;
}

export interface Supervisor {
  /** Running services by `<module>/<service>` with their pids and restart counts. */
  status(): { id: string; pid?: number; restarts: number; lastExit?: number }[];
  /** Stops every service (SIGTERM, SIGKILL after `graceMs`) and stops restarting them. */
  stop(graceMs?: number): Promise<void>;
}

export const SERVICE_BACKOFF = { initialMs: 1000, maxMs: 30_000, resetAfterMs: 60_000 } as const;

const DEFAULT_ENV = { PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", HOME: "/root" };

/** Starts `services` in `root` and keeps them running until `stop()`. */
export function startSupervisor(
  root: string,
  services: readonly SupervisedService[],
  deps: {
    sys: Pick<ModuleSys, "spawnService">;
    log: Log;
    now?: () => number;
    backoff?: { initialMs: number; maxMs: number; resetAfterMs: number };
  },
): Supervisor {
  const now = deps.now ?? Date.now;
  const backoff = deps.backoff ?? SERVICE_BACKOFF;
  let stopping = false;
  const entries = services.map((s) => ({
    id: `${s.module}/${s.service.name}`,
    s,
    proc: undefined as ServiceProcess | undefined,
    restarts: 0,
    lastExit: undefined as number | undefined,
    delayMs: backoff.initialMs,
    timer: undefined as ReturnType<typeof setTimeout> | undefined,
    done: Promise.resolve(),
  }));
  const start = (e: (typeof entries)[number]) => {
    if (stopping) return;
    const startedAt = now();
    try {
      e.proc = deps.sys.spawnService({
        root,
        argv: e.s.service.exec,
        env: { ...DEFAULT_ENV, ...(e.s.service.env ?? {}) },
        onLine: (l) => deps.log.info(`[${e.id}] ${l}`),
      });
    } catch (err) {
      deps.log.error(`service ${e.id}: could not start: ${err instanceof Error ? err.message : String(err)}`);
      schedule(e, 1);
      return;
    }
    deps.log.info(`service ${e.id} started (pid ${e.proc.pid}) in ${root}: ${e.s.service.exec.join(" ")}`);
    e.done = e.proc.exited.then((code) => {
      e.proc = undefined;
      e.lastExit = code;
      if (stopping) return;
      if (now() - startedAt > backoff.resetAfterMs) e.delayMs = backoff.initialMs;
      schedule(e, code);
    });
  };
  const schedule = (e: (typeof entries)[number], code: number) => {
    const policy = e.s.service.restart ?? "always";
    if (policy === "never" || (policy === "on-failure" && code === 0)) {
      deps.log.info(`service ${e.id} exited (${code}); restart policy ${policy}: not restarting`);
      return;
    }
    const ms = e.delayMs;
    e.delayMs = Math.min(e.delayMs * 2, backoff.maxMs);
    deps.log.warn(`service ${e.id} exited (${code}); restarting in ${(ms / 1000).toFixed(1)} s`);
    e.timer = setTimeout(() => {
      e.timer = undefined;
      e.restarts++;
      start(e);
    }, ms);
  };
  for (const e of entries) start(e);
  return {
    status: () =>
      entries.map((e) => {
        const r: { id: string; pid?: number; restarts: number; lastExit?: number } = {
          id: e.id,
          restarts: e.restarts,
        };
        if (e.proc) r.pid = e.proc.pid;
        if (e.lastExit !== undefined) r.lastExit = e.lastExit;
        return r;
      }),
    async stop(graceMs = 5000) {
      stopping = true;
      await Promise.all(
        entries.map(async (e) => {
          if (e.timer) clearTimeout(e.timer);
          const p = e.proc;
          if (!p) return;
          p.kill("SIGTERM");
          let t: ReturnType<typeof setTimeout> | undefined;
          const killed = new Promise<void>((resolve) => {
            t = setTimeout(() => {
              p.kill("SIGKILL");
              resolve();
            }, graceMs);
          });
          await Promise.race([p.exited.then(() => undefined), killed]);
          await p.exited;
          clearTimeout(t);
          deps.log.info(`service ${e.id} stopped`);
        }),
      );
    },
  };
}
