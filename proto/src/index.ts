/**
 * The powernode API: generated message schemas and service descriptors, re-exported by name.
 * Generated code lives in `./gen` (committed, never edited; `bun run gen` rewrites it).
 */

export { type AttestedModule, attestationPayload } from "./attestation.ts";
export { EVENTS, type EventKind, type EventSeverity, eventKind, withSeverity } from "./event-kinds.ts";
export {
  type AgentBuild,
  type AgentRollout,
  AgentRolloutState,
  type AgentRolloutStep,
  AgentRolloutStepState,
  type AgentSection,
  AgentSectionSchema,
  AgentService,
  type AgentUpdateReport,
  type NodeAgent,
} from "./gen/powernode/v1/agent_pb.ts";
export {
  CatalogService,
  type Module,
  ModuleSchema,
  type ModuleVersion,
  ModuleVersionSchema,
} from "./gen/powernode/v1/catalog_pb.ts";
export {
  CertificateStatus,
  type CertificateVersion,
  CertificateVersionState,
  CertService,
  type DnsProvider,
  type ManagedCertificate,
  type PreflightCheck,
} from "./gen/powernode/v1/certs_pb.ts";
export {
  type ClaimedDevice,
  ClaimService,
  ClaimStatus,
  DeviceClaimService,
  type DeviceFacts,
  DeviceFactsSchema,
} from "./gen/powernode/v1/claims_pb.ts";
export { Arch, ArchSchema, Severity, SeveritySchema } from "./gen/powernode/v1/common_pb.ts";
export {
  type Cve,
  type CveAffected,
  CveAffectedSchema,
  type CveExposure,
  CveSchema,
  CveService,
  type DrillCveResponse,
} from "./gen/powernode/v1/cve_pb.ts";
export {
  DebugLayer,
  type DebugPing,
  DebugPingSchema,
  type DebugRead,
  DebugReadSchema,
  type DebugSpec,
  DebugSpecSchema,
  type DebugTamper,
  DebugTamperSchema,
} from "./gen/powernode/v1/debug_pb.ts";
export {
  type DesiredState,
  DesiredStateSchema,
  type ModulesSection,
  ModulesSectionSchema,
} from "./gen/powernode/v1/desired_state_pb.ts";
export {
  type DiskImagePublication,
  DiskImageService,
  type DiskImageWebhook,
} from "./gen/powernode/v1/disk_images_pb.ts";
export {
  type DockerHost,
  DockerHostSchema,
  DockerHostStatus,
  DockerNodeService,
  type DockerSection,
  DockerSectionSchema,
  DockerService,
} from "./gen/powernode/v1/docker_pb.ts";
export { type FleetEvent, FleetEventSchema } from "./gen/powernode/v1/events_pb.ts";
export {
  type FederationPeer,
  FederationPeerSchema,
  FederationPeerService,
  FederationService,
  type MemberSlot,
  type PeerCatalogEntry,
  type PeerFleetSummary,
  PeerRole,
  PeerState,
} from "./gen/powernode/v1/federation_pb.ts";
export {
  FleetService,
  type Node,
  NodeSchema,
  NodeState,
  NodeStateSchema,
} from "./gen/powernode/v1/fleet_pb.ts";
export {
  type K3sBootstrapEvent,
  type K3sCluster,
  K3sClusterSchema,
  type K3sNode,
  K3sNodeSchema,
  K3sNodeService,
  type K3sSection,
  K3sSectionSchema,
  K3sService,
} from "./gen/powernode/v1/k3s_pb.ts";
export {
  type ModuleRollout,
  ModuleRolloutNodeState,
  ModuleRolloutService,
  ModuleRolloutState,
} from "./gen/powernode/v1/module_rollouts_pb.ts";
export {
  type ModuleAssignment,
  ModuleAssignmentSchema,
  type ModuleObservation,
  ModuleObservationSchema,
  type PullLocation,
  PullLocationSchema,
} from "./gen/powernode/v1/modules_pb.ts";
export {
  CreateNetworkRequestSchema,
  GetMeshHealthResponseSchema,
  type MembershipCredential,
  MembershipCredentialSchema,
  type MeshMemberHealth,
  MeshMemberHealthSchema,
  type MeshMembership,
  MeshMembershipSchema,
  type MeshPeer,
  type MeshPeerHealth,
  MeshPeerHealthSchema,
  type MeshPeerObservation,
  MeshPeerObservationSchema,
  MeshPeerSchema,
  type MeshReport,
  MeshReportSchema,
  MeshSyncService,
  MeshTopology,
  type Network,
  type NetworkMember,
  NetworkMemberSchema,
  NetworkSchema,
  type NetworkSection,
  NetworkSectionSchema,
  NetworkService,
  type WatchMeshPeersResponse,
  WatchMeshPeersResponseSchema,
} from "./gen/powernode/v1/network_pb.ts";
export {
  type EnrollRequest,
  EnrollRequestSchema,
  type EnrollResponse,
  EnrollResponseSchema,
  type HeartbeatRequest,
  HeartbeatRequestSchema,
  type HeartbeatResponse,
  HeartbeatResponseSchema,
  NodeService,
  type ReportStatusRequest,
  ReportStatusRequestSchema,
  type WatchDesiredStateResponse,
  WatchDesiredStateResponseSchema,
} from "./gen/powernode/v1/node_pb.ts";
export { type Instance, InstanceSchema, ProvisionService } from "./gen/powernode/v1/provision_pb.ts";
export {
  type GetPullCredentialResponse,
  GetPullCredentialResponseSchema,
  type Registry,
  RegistryNodeService,
  RegistrySchema,
  RegistryService,
} from "./gen/powernode/v1/registries_pb.ts";
export {
  type HostBridge,
  HostBridgeSchema,
  type IpfixCollector,
  type IpfixExport,
  type NodeFlows,
  type OvnCentral,
  OvnCentralSchema,
  type OvnControl,
  OvnControlSchema,
  type RouteLeak,
  type SdwanSection,
  SdwanSectionSchema,
  SdwanService,
  type Vrf,
} from "./gen/powernode/v1/sdwan_pb.ts";
export {
  type Condition,
  ConditionSchema,
  type PhaseEvent,
  PhaseEventSchema,
} from "./gen/powernode/v1/status_pb.ts";
export {
  type NfsExport,
  type NfsGatewayUpstream,
  type NfsMount,
  type Storage,
  StorageNodeService,
  type StorageSection,
  StorageSectionSchema,
  StorageService,
  StorageShape,
} from "./gen/powernode/v1/storage_pb.ts";
export {
  type OperatorToken,
  OperatorTokenSchema,
  TokenService,
} from "./gen/powernode/v1/tokens_pb.ts";
export {
  type CredentialExpectations,
  canonicalEnvelope,
  constellationHandleOf,
  ENVELOPE_KEYS,
  type MembershipEnvelope,
  type ParseEnvelopeResult,
  parseEnvelope,
  type VerifyCredentialOptions,
  type VerifyCredentialResult,
  verifyCredential,
} from "./membership-credential.ts";
