/**
 * The controller engine: starts every controller of a list on one resource store, wakes each when one
 * of its inputs changes, restarts one that throws (jittered backoff), and keeps a `ControllerStatus`
 * resource per controller (its Condition). Configuration errors are refused at start: two controllers
 * writing one type, an input nobody writes, a duplicate name.
 */
import { createLog, type Log, stderrSink } from "../log.ts";
import { type BackoffOptions, createBackoff } from "./backoff.ts";
import { type Clock, createSystemClock } from "./clock.ts";
import type { ConditionValue, Controller, ControllerContext } from "./controller.ts";
import {
  type AnyResourceType,
  createResourceStore,
  defineResource,
  type ResourceChange,
  type ResourceStore,
  type ResourceType,
} from "./resource-store.ts";

/** One per controller (id = its name), written by the engine only. */
export const ControllerStatus = defineResource<ConditionValue & { restarts: number }>("ControllerStatus");

/** A resource present before any controller runs (the node's identity, say): its type's only writer. */
export interface SeedResource {
  type: AnyResourceType;
  id: string;
  spec: unknown;
}

export interface EngineOptions {
  controllers: readonly Controller[];
  seed?: readonly SeedResource[];
  store?: ResourceStore;
  log?: Log;
  clock?: Clock;
  /** Restart timing after a throw (default 1 s doubling to 30 s). */
  backoff?: BackoffOptions;
}

export interface Engine {
  readonly store: ResourceStore;
  /** Every controller's Condition, by name. */
  conditions(): ConditionValue[];
  /** Resolves when `test` holds (checked after every change); rejects naming `what` after `timeoutMs`. */
  waitFor(what: string, test: (store: ResourceStore) => boolean, timeoutMs?: number): Promise<void>;
  /** Aborts every controller and waits for them to return. */
  stop(): Promise<void>;
}

/** A refused engine configuration. */
export class EngineConfigError extends Error {
  constructor(problems: readonly string[]) {
    super(`controller engine: ${problems.join("; ")}`);
    this.name = "EngineConfigError";
  }
}

/** Checks one writer per type and a writer for every input; returns the writer of each type. */
export function checkControllers(
  controllers: readonly Controller[],
  seed: readonly SeedResource[] = [],
): Map<string, string> {
  const problems: string[] = [];
  const writer = new Map<string, string>([[ControllerStatus.name, "engine"]]);
  for (const s of seed) writer.set(s.type.name, "seed");
  const names = new Set<string>();
  for (const c of controllers) {
    if (names.has(c.name)) problems.push(`two controllers are named ${c.name}`);
    names.add(c.name);
    for (const t of c.outputs) {
      const w = writer.get(t.name);
      if (w && w !== c.name) problems.push(`${t.name} is written by both ${w} and ${c.name}`);
      else writer.set(t.name, c.name);
    }
  }
  for (const c of controllers)
    for (const t of c.inputs)
      if (!writer.has(t.name)) problems.push(`${c.name} reads ${t.name}, which nothing writes`);
  if (problems.length > 0) throw new EngineConfigError(problems);
  return writer;
}

/** Starts the engine. */
export function startEngine(o: EngineOptions): Engine {
  checkControllers(o.controllers, o.seed);
  const store = o.store ?? createResourceStore();
  const log = o.log ?? createLog(stderrSink);
  const clock = o.clock ?? createSystemClock();
  const abort = new AbortController();
  for (const s of o.seed ?? []) store.set(s.type, s.id, s.spec);

  const setStatus = (name: string, ok: boolean, reason: string, message: string, restarts: number) => {
    const prev = store.get(ControllerStatus, name)?.spec;
    const since = prev && prev.ok === ok && prev.reason === reason ? prev.since : clock.now();
    store.set(ControllerStatus, name, { type: name, ok, reason, message, since, restarts });
  };

  const runs = o.controllers.map((c) => runController(c));
  function runController(c: Controller): Promise<void> {
    const readable = new Set([...c.inputs, ...c.outputs].map((t) => t.name));
    const writable = new Set(c.outputs.map((t) => t.name));
    const inputs = new Set(c.inputs.map((t) => t.name));
    let dirty = true;
    let wakeUp: (() => void) | undefined;
    const wake = () => {
      dirty = true;
      wakeUp?.();
    };
    const unwatch = store.watch((ch: ResourceChange) => {
      if (inputs.has(ch.resource.type)) wake();
    });
    const check = (set: Set<string>, t: AnyResourceType, verb: string) => {
      if (!set.has(t.name)) throw new Error(`controller ${c.name} may not ${verb} ${t.name}: declare it`);
    };
    let restarts = 0;
    const ctx: ControllerContext = {
      name: c.name,
      signal: abort.signal,
      log,
      clock,
      get<S>(t: ResourceType<S>, id: string) {
        check(readable, t, "read");
        return store.get(t, id);
      },
      list<S>(t: ResourceType<S>) {
        check(readable, t, "read");
        return store.list(t);
      },
      set<S>(t: ResourceType<S>, id: string, spec: S) {
        check(writable, t, "write");
        store.set(t, id, spec);
      },
      remove(t, id) {
        check(writable, t, "write");
        store.remove(t, id);
      },
      changed(opts = {}) {
        if (dirty || abort.signal.aborted || opts.signal?.aborted) {
          dirty = false;
          return Promise.resolve();
        }
        return new Promise<void>((resolve) => {
          const done = () => {
            if (timer) clearTimeout(timer);
            abort.signal.removeEventListener("abort", done);
            opts.signal?.removeEventListener("abort", done);
            if (wakeUp === done) wakeUp = undefined;
            dirty = false;
            resolve();
          };
          const timer = opts.timeoutMs === undefined ? undefined : setTimeout(done, opts.timeoutMs);
          wakeUp?.();
          wakeUp = done;
          abort.signal.addEventListener("abort", done, { once: true });
          opts.signal?.addEventListener("abort", done, { once: true });
        });
      },
      wake,
      condition(ok, reason, message = "") {
        setStatus(c.name, ok, reason, message, restarts);
      },
    };
    setStatus(c.name, true, "Started", "", 0);
    const backoff = createBackoff({ initialMs: 1000, maxMs: 30_000, ...o.backoff });
    return (async () => {
      try {
        while (!abort.signal.aborted) {
          try {
            await c.run(ctx);
            return;
          } catch (err) {
            if (abort.signal.aborted) return;
            const msg = err instanceof Error ? err.message : String(err);
            const ms = backoff.next();
            restarts++;
            setStatus(c.name, false, "Failed", msg, restarts);
            log.error(`controller ${c.name} failed (${msg}); restarting in ${(ms / 1000).toFixed(1)} s`);
            await clock.sleep(ms, abort.signal);
            dirty = true;
          }
        }
      } finally {
        unwatch();
      }
    })();
  }

  return {
    store,
    conditions: () => store.list(ControllerStatus).map((r) => ({ ...r.spec })),
    waitFor(what, test, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        if (test(store)) return resolve();
        const timer = setTimeout(() => {
          unwatch();
          reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
        }, timeoutMs);
        const unwatch = store.watch(() => {
          if (!test(store)) return;
          clearTimeout(timer);
          unwatch();
          resolve();
        });
      });
    },
    async stop() {
      abort.abort();
      await Promise.all(runs);
    },
  };
}
