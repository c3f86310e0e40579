/** The network feature's public surface (for smokes, benches and tests in process). */
export { interfaceName, memberAddress, parseUlaPrefix } from "./addresses.ts";
export { networkFeature } from "./feature.ts";
export { meshHealth, PEER_DOWN_AFTER_SECONDS } from "./health.ts";
export { refreshCredentialsJob, reissueMember, revokeMember } from "./member-credentials.ts";
export { parseMeshReport, recordMeshReports } from "./mesh-reports.ts";
export {
  changeNetwork,
  createNetwork,
  deleteNetwork,
  joinNetwork,
  leaveNetwork,
  listMembers,
  listNetworks,
  type MemberRow,
  type NetworkRow,
  resolveNetwork,
} from "./networks.ts";
export { createPeerBus, type NetworkChange, type PeerBus, type PeerChange, peerBusOf } from "./peer-bus.ts";
export { peerEntry, sees, snapshotFor } from "./peers.ts";
