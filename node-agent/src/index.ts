/**
 * The node agent's public surface: the hub session (run in process by the smokes' db tier, and by the
 * PID 1 agent after boot), identity parsing, and the pieces tests and smokes drive.
 */

export { type RenewalOptions, renewalTime } from "./controllers/credentials/renew.ts";
export type { NodeIdentity, NodeMetrics } from "./controllers/deps.ts";
export type { MeshOs } from "./controllers/mesh/mesh-controller.ts";
export { DesiredNodeState, MeshPeers, MeshStatus } from "./controllers/resources.ts";
export { parseKernelCmdline, powernodeParams } from "./identity/cmdline.ts";
export {
  decodeCaPem,
  type Identity,
  IdentityError,
  type ParseIdentityResult,
  parseIdentity,
  type StaticIp,
} from "./identity/parse-identity.ts";
export { createLog, createMemoryLog, type Log, type LogSink, type MemoryLog } from "./log.ts";
export { createNodeKeyAndCsr } from "./pki/csr.ts";
export { loadPki, type NodePki, pkiDir } from "./pki/pki-store.ts";
export { type Backoff, type BackoffOptions, createBackoff } from "./runtime/backoff.ts";
export { type Clock, createSystemClock } from "./runtime/clock.ts";
export { createPhaseRecorder, PHASES, type Phase, type PhaseRecorder } from "./runtime/phases.ts";
export { createResourceStore, type Resource, type ResourceStore } from "./runtime/resource-store.ts";
export {
  type AgentSession,
  type AgentSessionOptions,
  currentArch,
  startAgentSession,
} from "./session/session.ts";
export { AGENT_VERSION } from "./version.ts";
