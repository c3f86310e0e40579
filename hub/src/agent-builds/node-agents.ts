/**
 * Which agent build each node runs: the operator's assignment (compiled into the `agent` section) and
 * what the node's heartbeats report about it (pid, the last build it refused or rolled back).
 */
import type { HeartbeatRequest } from "@powernode/proto";
import { EVENTS } from "@powernode/proto";
import { eq } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { instances, nodeAgents } from "../db/schema/index.ts";
import type { Deps } from "../deps.ts";
import { defineSection, type Tx } from "../desired-state/index.ts";
import { DomainError } from "../errors.ts";
import { moduleRegistryUrl } from "../provision/module-assignments.ts";
import { AGENT_REPOSITORY, buildOf, versionField } from "./builds.ts";

export type NodeAgentRow = typeof nodeAgents.$inferSelect;

/** One node's agent as the API shows it. */
export interface NodeAgentView {
  nodeId: string;
  runningVersion: string;
  row: NodeAgentRow | undefined;
}

async function liveNode(db: Pick<Db, "select">, nodeId: string) {
  const [node] = await db.select().from(instances).where(eq(instances.id, nodeId));
  if (!node || node.state === "deleted") throw new DomainError("not_found", `node_id: no node ${nodeId}`);
  return node;
}

export async function getNodeAgent(db: Db, nodeId: string): Promise<NodeAgentView> {
  const node = await liveNode(db, nodeId);
  const [row] = await db.select().from(nodeAgents).where(eq(nodeAgents.nodeId, nodeId));
  return { nodeId, runningVersion: node.agentVersion ?? "", row };
}

/**
 * Tells a node to run `version` ("" = its image's agent); returns the new desired-state version.
 * `within` runs in the same transaction, after the node's row lock (a rollout claims its step there,
 * so the claim and the assignment commit together or not at all).
 */
export async function setNodeAgent(
  deps: Deps,
  nodeId: string,
  version: string,
  within?: (tx: Tx) => Promise<void>,
): Promise<number> {
  const node = await liveNode(deps.db, nodeId);
  const want = version === "" ? null : versionField("version", version);
  if (want !== null && (await buildOf(deps.db, want, node.arch)).length === 0)
    throw new DomainError(
      "not_found",
      `version: no agent build ${want} for ${node.arch} (publish it: pnctl agent publish <binary> --version ${want} --arch ${node.arch})`,
    );
  const { version: desired } = await deps.desiredState.change(nodeId, async (tx) => {
    if (within) await within(tx);
    await tx
      .insert(nodeAgents)
      .values({ nodeId, desiredVersion: want })
      .onConflictDoUpdate({
        target: nodeAgents.nodeId,
        set: { desiredVersion: want, updatedAt: new Date() },
      });
  });
  await deps.events.emit(EVENTS.agentAssigned, { version: want ?? "" }, { nodeId });
  return desired;
}

/** The `agent` section: the assigned build with the URL of its blob on the node listener. */
export const agentSection = defineSection({
  section: "agent",
  async compile(tx, node, core) {
    const [row] = await tx.select().from(nodeAgents).where(eq(nodeAgents.nodeId, node.id));
    if (!row?.desiredVersion) return {};
    const [build] = await buildOf(tx, row.desiredVersion, node.arch);
    if (!build)
      throw new DomainError(
        "precondition",
        `agent: no build ${row.desiredVersion} for ${node.arch} any more`,
      );
    return {
      version: build.version,
      sha256: build.sha256,
      size: BigInt(build.size),
      url: `${moduleRegistryUrl(core.config)}/v2/${AGENT_REPOSITORY}/blobs/sha256:${build.sha256}`,
    };
  },
});

const HEX64 = /^[a-f0-9]{64}$/;
const REPORT_TEXT_MAX = 512;

/** What a hub process last saw per node, so an unchanged report costs no query. */
const seen = new WeakMap<Deps, Map<string, string>>();

/**
 * The heartbeat observer: records the agent's pid, emits `system.agent.update_failed` once per
 * refused build and `system.agent.updated` when the node first reports its assigned version.
 * Malformed reports are logged and skipped (never fail the heartbeat). True when the report differs
 * from what this process saw last of the node in version or refused build (or it is the first it saw):
 * only then can a rollout step of the node move.
 */
export async function observeAgentReport(
  deps: Deps,
  nodeId: string,
  req: HeartbeatRequest,
): Promise<boolean> {
  const r = req.agentUpdate;
  const key = `${req.agentVersion}|${r?.pid ?? 0}|${r?.failedSha256 ?? ""}`;
  let cache = seen.get(deps);
  if (!cache) {
    cache = new Map();
    seen.set(deps, cache);
  }
  const prevKey = cache.get(nodeId);
  if (prevKey === key) return false;
  const failed = r?.failedSha256 ?? "";
  if (
    failed !== "" &&
    (!HEX64.test(failed) ||
      (r?.failedVersion.length ?? 0) > 128 ||
      (r?.failedReason.length ?? 0) > REPORT_TEXT_MAX)
  ) {
    deps.log.warn("agent report: malformed failed build in a heartbeat; ignored", { nodeId });
    cache.set(nodeId, key);
    return false;
  }
  const pid = r && r.pid <= 2_147_483_647 ? r.pid : null;
  const [row] = await deps.db.select().from(nodeAgents).where(eq(nodeAgents.nodeId, nodeId));
  const newFailure = failed !== "" && row?.lastFailedSha256 !== failed;
  const failure = newFailure
    ? {
        lastFailedVersion: r?.failedVersion ?? "",
        lastFailedSha256: failed,
        lastFailedReason: r?.failedReason ?? "",
        lastFailedAt: new Date(),
      }
    : {};
  if (row?.pid !== pid || newFailure)
    await deps.db
      .insert(nodeAgents)
      .values({ nodeId, pid, ...failure })
      .onConflictDoUpdate({ target: nodeAgents.nodeId, set: { pid, ...failure, updatedAt: new Date() } });
  if (newFailure)
    await deps.events.emit(
      EVENTS.agentUpdateFailed,
      {
        version: r?.failedVersion ?? "",
        sha256: failed,
        reason: r?.failedReason ?? "",
        running: req.agentVersion,
      },
      { nodeId },
    );
  const prevVersion = prevKey?.split("|")[0];
  // Only a change this process saw (a hub restart does not announce what was running already).
  if (
    row?.desiredVersion &&
    req.agentVersion === row.desiredVersion &&
    prevVersion !== undefined &&
    prevVersion !== req.agentVersion
  )
    await deps.events.emit(EVENTS.agentUpdated, { version: req.agentVersion, pid: pid ?? 0 }, { nodeId });
  cache.set(nodeId, key);
  return newFailure || prevVersion !== req.agentVersion;
}
