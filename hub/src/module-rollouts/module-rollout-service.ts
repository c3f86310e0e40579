/** ModuleRolloutService: the operator's edge over rollouts.ts. */
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import { ModuleRolloutNodeState, type ModuleRolloutService, ModuleRolloutState } from "@powernode/proto";
import type { Deps } from "../deps.ts";
import {
  abortRollout,
  getRollout,
  listRollouts,
  type ModuleRolloutNodeRow,
  type ModuleRolloutView,
  planRollout,
  startRollout,
} from "./rollouts.ts";

const ts = (d: Date | null | undefined) => (d ? timestampFromDate(d) : undefined);

const ROLLOUT_STATE = {
  running: ModuleRolloutState.RUNNING,
  succeeded: ModuleRolloutState.SUCCEEDED,
  failed: ModuleRolloutState.FAILED,
  aborted: ModuleRolloutState.ABORTED,
} as const;

const NODE_STATE = {
  pending: ModuleRolloutNodeState.PENDING,
  updating: ModuleRolloutNodeState.UPDATING,
  updated: ModuleRolloutNodeState.UPDATED,
  failed: ModuleRolloutNodeState.FAILED,
  rolled_back: ModuleRolloutNodeState.ROLLED_BACK,
  skipped: ModuleRolloutNodeState.SKIPPED,
} as const;

/** Nodes grouped by batch, in order. */
function batchesOf(nodes: readonly ModuleRolloutNodeRow[], count: number) {
  return Array.from({ length: count }, (_, index) => ({
    index,
    nodes: nodes
      .filter((n) => n.batch === index)
      .map((n) => ({
        nodeId: n.nodeId,
        nodeName: n.nodeName,
        batch: n.batch,
        state: NODE_STATE[n.state],
        error: n.error ?? "",
        startedAt: ts(n.startedAt),
        finishedAt: ts(n.finishedAt),
      })),
  }));
}

function rolloutProto({ rollout: r, nodes }: ModuleRolloutView) {
  return {
    id: r.id,
    templateId: r.templateId,
    templateName: r.templateName,
    module: r.module,
    fromVersion: r.fromVersion,
    toVersion: r.toVersion,
    batchPercent: r.batchPercent,
    batchTimeoutSeconds: r.batchTimeoutSeconds,
    state: ROLLOUT_STATE[r.state],
    currentBatch: r.currentBatch,
    batches: batchesOf(nodes, r.batchCount),
    error: r.error ?? "",
    createdAt: ts(r.createdAt),
    finishedAt: ts(r.finishedAt),
  };
}

export function createModuleRolloutService(deps: Deps): ServiceImpl<typeof ModuleRolloutService> {
  return {
    async planModuleRollout(req) {
      const plan = await planRollout(deps.db, req);
      return {
        batches: plan.batches.map((b, index) => ({
          index,
          nodes: b.map((n) => ({ nodeId: n.id, nodeName: n.name, batch: index, state: NODE_STATE.pending })),
        })),
        totalNodes: plan.batches.flat().length,
        fromVersion: plan.fromVersion,
      };
    },
    async startModuleRollout(req) {
      return { rollout: rolloutProto(await startRollout(deps, req)) };
    },
    async getModuleRollout(req) {
      return { rollout: rolloutProto(await getRollout(deps.db, req.id)) };
    },
    async listModuleRollouts(req) {
      return { rollouts: (await listRollouts(deps.db, req.template)).map(rolloutProto) };
    },
    async abortModuleRollout(req) {
      return { rollout: rolloutProto(await abortRollout(deps, req.id)) };
    },
  };
}
