/** The events of a module rollout: one per node that moves, one per batch that ends, one at the end. */
import { EVENTS, withSeverity } from "@powernode/proto";
import type { NewEvent } from "../events/index.ts";
import type { ModuleRolloutNodeRow, ModuleRolloutRow } from "./rollouts.ts";

/** `system.module.rollout_node`: a node moved to `n.state` (on the node's timeline too). */
export function nodeEvent(r: ModuleRolloutRow, n: ModuleRolloutNodeRow): NewEvent {
  const kind =
    n.state === "failed" ? withSeverity(EVENTS.moduleRolloutNode, "warn") : EVENTS.moduleRolloutNode;
  return {
    kind: kind.kind,
    severity: kind.severity,
    payload: {
      rolloutId: r.id,
      template: r.templateName,
      module: r.module,
      toVersion: r.toVersion,
      batch: n.batch,
      node: n.nodeName,
      state: n.state,
      error: n.error ?? "",
    },
    opts: { nodeId: n.nodeId },
  };
}

/** `system.module.rollout_batch`: batch `r.currentBatch` passed or failed. */
export function batchEvent(r: ModuleRolloutRow, outcome: "passed" | "failed"): NewEvent {
  const kind =
    outcome === "failed" ? withSeverity(EVENTS.moduleRolloutBatch, "error") : EVENTS.moduleRolloutBatch;
  return {
    kind: kind.kind,
    severity: kind.severity,
    payload: {
      rolloutId: r.id,
      template: r.templateName,
      module: r.module,
      toVersion: r.toVersion,
      batch: r.currentBatch,
      canary: r.currentBatch === 0,
      outcome,
    },
  };
}

/** `system.module.rollout_finished`: error when it failed, warn when aborted. */
export function finishedEvent(r: ModuleRolloutRow): NewEvent {
  const severity = r.state === "failed" ? "error" : r.state === "aborted" ? "warn" : "info";
  return {
    kind: EVENTS.moduleRolloutFinished.kind,
    severity,
    payload: {
      rolloutId: r.id,
      template: r.templateName,
      module: r.module,
      toVersion: r.toVersion,
      state: r.state,
      batch: r.currentBatch,
      error: r.error ?? "",
    },
  };
}
