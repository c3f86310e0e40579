/**
 * The Heartbeat edge: every field of a HeartbeatRequest checked against the column it is stored in,
 * before anything is queued for the batched writer (one node's bad values must never reach a statement
 * that carries other nodes' heartbeats). Strings are also checked for NUL, UTF-8 and length by the RPC
 * edge (rpc/input-rules.ts); here they get their own, tighter limits.
 */
import type { HeartbeatRequest } from "@powernode/proto";
import { finiteField, INT4_MAX, intField, listField, safeIntField, textField } from "../rpc/fields.ts";
import type { HeartbeatInput } from "./heartbeat-writer.ts";

/** Longest boot id and agent version (characters). */
export const HEARTBEAT_TEXT_MAX = 128;
/** Module observations per heartbeat. */
export const HEARTBEAT_MODULES_MAX = 256;
/** Mesh reports per heartbeat. */
export const HEARTBEAT_MESHES_MAX = 64;
/** Uptime above this (about 3,170 years) is not an uptime. */
const UPTIME_MAX_SECONDS = 1e11;

/**
 * The checked heartbeat of `instanceId` at `at`, or an `invalid_argument` naming the first bad field:
 * `zombie_count`/`children_spawned` (uint32 into an int4 column: 0 to 2147483647),
 * `applied_version`/`agent_rss_bytes` (uint64 into bigint, kept as JS numbers: 0 to 2^53 - 1),
 * `uptime_seconds` (finite, not negative), `boot_id` (required), `agent_version`, `modules`, `meshes`.
 */
export function toHeartbeatInput(instanceId: string, req: HeartbeatRequest, at: Date): HeartbeatInput {
  const bootId = textField("boot_id", req.bootId, { required: true, max: HEARTBEAT_TEXT_MAX });
  const agentVersion = textField("agent_version", req.agentVersion, { max: HEARTBEAT_TEXT_MAX });
  listField("modules", req.modules, HEARTBEAT_MODULES_MAX);
  listField("meshes", req.meshes, HEARTBEAT_MESHES_MAX);
  return {
    instanceId,
    bootId,
    agentVersion,
    appliedVersion: safeIntField("applied_version", req.appliedVersion),
    uptimeSeconds: finiteField("uptime_seconds", req.uptimeSeconds, 0, UPTIME_MAX_SECONDS),
    zombieCount: intField("zombie_count", req.zombieCount, 0, INT4_MAX),
    agentRssBytes: safeIntField("agent_rss_bytes", req.agentRssBytes),
    childrenSpawned: intField("children_spawned", req.childrenSpawned, 0, INT4_MAX),
    at,
  };
}
