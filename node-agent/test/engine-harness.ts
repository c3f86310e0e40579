/**
 * Testing a controller without a VM: `startTestEngine` runs controllers on a fresh store with a quiet
 * memory log and fast restarts; `assertResource` waits until a resource satisfies a check and, on
 * timeout, fails naming the resource and what it held.
 */
import { isDeepStrictEqual } from "node:util";
import { createMemoryLog, type MemoryLog } from "../src/log.ts";
import type { Controller } from "../src/runtime/controller.ts";
import { type Engine, type SeedResource, startEngine } from "../src/runtime/engine.ts";
import type { ResourceType } from "../src/runtime/resource-store.ts";

export interface TestEngine extends Engine {
  log: MemoryLog;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Starts `controllers` (restarts after 10-50 ms); stop it, or `await using` it. */
export function startTestEngine(
  controllers: readonly Controller[],
  seed: readonly SeedResource[] = [],
): TestEngine {
  const log = createMemoryLog();
  const engine = startEngine({ controllers, seed, log, backoff: { initialMs: 10, maxMs: 50 } });
  return { ...engine, log, [Symbol.asyncDispose]: () => engine.stop() };
}

/**
 * Waits until resource (type, id) exists and `check` accepts its spec: a function, or a value the spec
 * must deep-equal. `check` undefined: waits until the resource is absent.
 */
export async function assertResource<S>(
  engine: Engine,
  type: ResourceType<S>,
  id: string,
  check: ((spec: S) => boolean) | S | undefined,
  timeoutMs = 5_000,
): Promise<S | undefined> {
  const ok = () => {
    const r = engine.store.get(type, id);
    if (check === undefined) return r === undefined;
    if (!r) return false;
    return typeof check === "function"
      ? (check as (s: S) => boolean)(r.spec)
      : isDeepStrictEqual(r.spec, check);
  };
  try {
    await engine.waitFor(`${type.name}/${id}`, ok, timeoutMs);
  } catch {
    const r = engine.store.get(type, id);
    throw new Error(
      `${type.name}/${id}: not as expected after ${timeoutMs} ms; holds ${r ? JSON.stringify(r.spec, (_k, v) => (typeof v === "bigint" ? `${v}n` : v)) : "nothing"}`,
    );
  }
  return engine.store.get(type, id)?.spec;
}
