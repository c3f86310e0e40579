/**
 * The shape of a module rollout (decision 0042), pure: the canary (the first node) alone, then batches
 * of ceil(batchPercent% of all nodes) over the rest, in the order given (node name, then id); and the
 * health gate that ends one node's part of a batch.
 */
import type { ModuleObservationDocument } from "../db/schema/index.ts";

/** The batch size when a request names none. */
export const DEFAULT_BATCH_PERCENT = 25;

/** Splits `nodes` into batches: `[[canary], ...]`; empty for no nodes. */
export function planBatches<T>(nodes: readonly T[], batchPercent: number): T[][] {
  const [canary, ...rest] = nodes;
  if (canary === undefined) return [];
  const size = Math.max(1, Math.ceil((nodes.length * batchPercent) / 100));
  const batches: T[][] = [[canary]];
  for (let i = 0; i < rest.length; i += size) batches.push(rest.slice(i, i + size));
  return batches;
}

/** What the gate makes of one updating node now. */
export type GateOutcome = { state: "updated" } | { state: "failed"; error: string } | { state: "waiting" };

export interface GateInput {
  module: string;
  version: string;
  /** The node's row: its state and what its heartbeats last observed (and when). */
  instanceState: string;
  observations: readonly ModuleObservationDocument[];
  observedAt: Date | null;
  /** When the node was given the version, and how long it has. */
  startedAt: Date;
  timeoutSeconds: number;
  now: Date;
}

/**
 * Updated: a report newer than the assignment shows the module at the version, mounted, and the node
 * is not degraded (the hub's attestation check found the digests it mounted to be the catalog's).
 * Failed: such a report shows it failed, the node is degraded or deleted, or the timeout passed.
 */
export function gate(input: GateInput): GateOutcome {
  const { module, version } = input;
  if (input.instanceState === "deleted") return { state: "failed", error: "the node was deleted" };
  const fresh = input.observedAt !== null && input.observedAt.getTime() >= input.startedAt.getTime();
  const seen = fresh ? input.observations.find((o) => o.name === module && o.version === version) : undefined;
  if (seen?.state === "failed")
    return {
      state: "failed",
      error: `${module} ${version} failed on the node${seen.message ? `: ${seen.message.slice(0, 300)}` : ""}`,
    };
  if (seen?.state === "mounted" && input.instanceState === "degraded")
    return { state: "failed", error: `${module} ${version} mounted but the node is degraded (module drift)` };
  if (seen?.state === "mounted" && input.instanceState === "running") return { state: "updated" };
  const waited = (input.now.getTime() - input.startedAt.getTime()) / 1000;
  if (waited > input.timeoutSeconds)
    return {
      state: "failed",
      error: `no report of ${module} ${version} mounted and verified within ${input.timeoutSeconds} s${
        seen ? ` (last seen ${seen.state})` : ""
      }`,
    };
  return { state: "waiting" };
}
