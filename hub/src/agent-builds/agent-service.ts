/** AgentService: the operator's edge over builds.ts and node-agents.ts. */
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import { type AgentService, Arch } from "@powernode/proto";
import type { Deps } from "../deps.ts";
import { DomainError } from "../errors.ts";
import { uuidField } from "../rpc/fields.ts";
import { type AgentArch, type AgentBuildRow, listBuilds, registerBuild, versionField } from "./builds.ts";
import { getNodeAgent, type NodeAgentView, setNodeAgent } from "./node-agents.ts";

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
  };
}
