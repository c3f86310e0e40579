/**
 * PID 1 re-executing itself into another agent build (self-update, or the way back after a failed one).
 * The old agent stops every controller (daemons they run stop with them) and the module set (services
 * stopped, images unmounted), writes a handoff (boot id, what the boot found) and calls execve: same
 * PID 1, same kernel, mounts of the boot, network, WireGuard interfaces and credentials on tmpfs or
 * disk. The new agent takes the handoff instead of booting again, and its controllers bring modules
 * and daemons back (decision 0028: restart, not adopt).
 */
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { dirname } from "node:path";
import { createUpdateRecords } from "../controllers/agent-update/update-records.ts";
import type { ModuleSet } from "../controllers/modules/module-set.ts";
import { AgentReexec } from "../controllers/resources.ts";
import type { Log } from "../log.ts";
import type { Engine } from "../runtime/engine.ts";
import { writeFileAtomic } from "../sys/files.ts";
import type { BootState } from "./boot-context.ts";

/** Where the agent updates live: tmpfs, so a reboot forgets a staged build and its records. */
export const AGENT_UPDATE_DIR = "/run/powernode/agent";
export const HANDOFF_PATH = `${AGENT_UPDATE_DIR}/handoff.json`;

/** What one agent hands the next across execve. */
export interface Handoff {
  bootId: string;
  /** Children started since boot (the heartbeat's children_spawned keeps counting). */
  spawned: number;
  /** Who handed over. */
  from: { version: string; path: string };
  state: Pick<BootState, "identity" | "identitySource" | "stateDir" | "persistent" | "network" | "lease">;
}

export function writeHandoff(path: string, h: Handoff): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileAtomic(path, JSON.stringify(h), 0o600);
}

/** Reads and removes the handoff; undefined when this PID 1 was started by the kernel (a boot). */
export function takeHandoff(path: string): Handoff | undefined {
  if (!existsSync(path)) return undefined;
  try {
    const h = JSON.parse(readFileSync(path, "utf8")) as Partial<Handoff>;
    if (typeof h.bootId !== "string" || !h.state?.identity || !h.state.stateDir) return undefined;
    return h as Handoff;
  } catch {
    return undefined; // torn: boot as usual (the mounts it finds are already there)
  } finally {
    rmSync(path, { force: true });
  }
}

export interface ReexecOptions {
  engine: Engine;
  modules?: ModuleSet;
  log: Log;
  handoff: () => Handoff;
  /** execve(2): returns only by throwing. */
  execve: (path: string, argv: readonly string[], env: Record<string, string | undefined>) => never;
  /** The running binary: where to go when execve into the target fails. */
  self: string;
  /** Called when not even the running binary could be executed again (run-node: panic). */
  fatal: (err: unknown) => void;
  dir?: string;
  handoffPath?: string;
}

/**
 * Watches for an AgentReexec request; when one comes, stops everything and execs. If execve into the
 * target fails, the build is recorded as failed and this binary is executed again (a clean restart).
 */
export function watchForReexec(o: ReexecOptions): void {
  let started = false;
  const check = () => {
    const req = o.engine.store.get(AgentReexec, "node")?.spec;
    if (started || !req) return;
    started = true;
    void reexec(o, req);
  };
  o.engine.store.watch((ch) => {
    if (ch.resource.type === AgentReexec.name) check();
  });
  check(); // a request made before this watch
}

async function reexec(
  o: ReexecOptions,
  req: { path: string; version: string; sha256: string; why: string },
): Promise<void> {
  const t0 = performance.now();
  o.log.info(`re-exec (${req.why}) into ${req.version}: stopping controllers and module services`);
  await o.engine.stop();
  try {
    await o.modules?.stop().catch((e) => o.log.error(`re-exec: stopping the module set: ${String(e)}`));
    writeHandoff(o.handoffPath ?? HANDOFF_PATH, o.handoff());
    o.log.info(`re-exec: execve ${req.path} after ${(performance.now() - t0).toFixed(0)} ms of shutdown`);
    o.execve(req.path, [req.path], process.env);
  } catch (e) {
    o.log.error(`re-exec into ${req.path} failed: ${String(e)}; restarting ${o.self}`);
    if (req.sha256)
      createUpdateRecords(o.dir ?? AGENT_UPDATE_DIR).writeFailed({
        version: req.version,
        sha256: req.sha256,
        reason: `execve: ${e instanceof Error ? e.message : String(e)}`,
      });
    try {
      o.execve(o.self, [o.self], process.env);
    } catch (again) {
      o.fatal(again); // no agent to run any more: PID 1 panics
    }
  }
}
