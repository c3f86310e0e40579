/** AgentService: the operator's edge over builds.ts, node-agents.ts and rollouts.ts. */
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import { AgentRolloutState, AgentRolloutStepState, type AgentService, Arch } from "@powernode/proto";
import type { Deps } from "../deps.ts";
import { DomainError } from "../errors.ts";
import { uuidField } from "../rpc/fields.ts";
import { type AgentArch, type AgentBuildRow, listBuilds, registerBuild, versionField } from "./builds.ts";
import { getNodeAgent, type NodeAgentView, setNodeAgent } from "./node-agents.ts";
import { type AgentRolloutView, abortRollout, getRollout, listRollouts, startRollout } from "./rollouts.ts";

const ts = (d: Date | null | undefined) => (d ? timestampFromDate(d) : undefined);

function archField(field: string, a: Arch): AgentArch {
  if (a === Arch.AMD64) return "amd64";
  if (a === Arch.ARM64) return "arm64";
  throw new DomainError("invalid_argument", `${field}: required (ARCH_AMD64 or ARCH_ARM64)`);
}

function buildProto(b: AgentBuildRow) {
  return {
    version: b.version,
    arch: b.arch === "arm64" ? Arch.ARM64 : Arch.AMD64,
    sha256: b.sha256,
    size: BigInt(b.size),
    manifestDigest: b.manifestDigest,
    createdAt: ts(b.createdAt),
  };
}

function nodeAgentProto(v: NodeAgentView) {
  return {
    nodeId: v.nodeId,
    runningVersion: v.runningVersion,
    pid: v.row?.pid ?? 0,
    desiredVersion: v.row?.desiredVersion ?? "",
    lastFailedVersion: v.row?.lastFailedVersion ?? "",
    lastFailedReason: v.row?.lastFailedReason ?? "",
    lastFailedAt: ts(v.row?.lastFailedAt),
  };
}

const ROLLOUT_STATE = {
  running: AgentRolloutState.RUNNING,
  succeeded: AgentRolloutState.SUCCEEDED,
  failed: AgentRolloutState.FAILED,
  aborted: AgentRolloutState.ABORTED,
} as const;

const STEP_STATE = {
  pending: AgentRolloutStepState.PENDING,
  updating: AgentRolloutStepState.UPDATING,
  updated: AgentRolloutStepState.UPDATED,
  failed: AgentRolloutStepState.FAILED,
  skipped: AgentRolloutStepState.SKIPPED,
} as const;

function rolloutProto({ rollout: r, steps }: AgentRolloutView) {
  return {
    id: r.id,
    templateId: r.templateId,
    templateName: r.templateName,
    version: r.version,
    state: ROLLOUT_STATE[r.state],
    maxFailures: r.maxFailures,
    failures: r.failures,
    stepTimeoutSeconds: r.stepTimeoutSeconds,
    steps: steps.map((s) => ({
      nodeId: s.nodeId,
      nodeName: s.nodeName,
      state: STEP_STATE[s.state],
      fromVersion: s.fromVersion ?? "",
      startedAt: ts(s.startedAt),
      finishedAt: ts(s.finishedAt),
      error: s.error ?? "",
    })),
    error: r.error ?? "",
    createdAt: ts(r.createdAt),
    finishedAt: ts(r.finishedAt),
  };
}

export function createAgentService(deps: Deps): ServiceImpl<typeof AgentService> {
  return {
    async registerAgentBuild(req) {
      const { build, created } = await registerBuild(deps, {
        version: versionField("version", req.version),
        arch: archField("arch", req.arch),
        manifestDigest: req.manifestDigest,
      });
      return { build: buildProto(build), created };
    },
    async listAgentBuilds() {
      return { builds: (await listBuilds(deps.db)).map(buildProto) };
    },
    async setNodeAgent(req) {
      const nodeId = uuidField("node_id", req.nodeId);
      const desired = await setNodeAgent(deps, nodeId, req.version);
      return { agent: nodeAgentProto(await getNodeAgent(deps.db, nodeId)), desiredVersion: BigInt(desired) };
    },
    async getNodeAgent(req) {
      return { agent: nodeAgentProto(await getNodeAgent(deps.db, uuidField("node_id", req.nodeId))) };
    },
    async startAgentRollout(req) {
      const view = await startRollout(deps, {
        template: req.template,
        version: req.version,
        maxFailures: req.maxFailures,
        stepTimeoutSeconds: req.stepTimeoutSeconds,
      });
      return { rollout: rolloutProto(view) };
    },
    async getAgentRollout(req) {
      return { rollout: rolloutProto(await getRollout(deps.db, req.id)) };
    },
    async listAgentRollouts(req) {
      return { rollouts: (await listRollouts(deps.db, req.template)).map(rolloutProto) };
    },
    async abortAgentRollout(req) {
      return { rollout: rolloutProto(await abortRollout(deps, req.id)) };
    },
  };
}
