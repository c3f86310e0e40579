/**
 * Drives the module controller: reconcile on every new DesiredNodeState and every `intervalMs`
 * (level-triggered: a pending fetch is retried, a settled set costs a comparison).
 */
import type { ResourceStore } from "../runtime/resource-store.ts";
import { DesiredNodeState } from "../runtime/resources.ts";
import type { ModuleController } from "./controller.ts";

export function runModuleController(
  controller: ModuleController,
  store: ResourceStore,
  opts: { intervalMs?: number; signal?: AbortSignal } = {},
): () => void {
  const intervalMs = opts.intervalMs ?? 30_000;
  const tick = () => void controller.reconcile(store.get(DesiredNodeState, "node")?.spec);
  const unwatch = store.watch((r) => {
    if (r.type === DesiredNodeState.name) tick();
  });
  const timer = setInterval(tick, intervalMs);
  tick();
  const stop = () => {
    unwatch();
    clearInterval(timer);
  };
  opts.signal?.addEventListener("abort", stop);
  return stop;
}
