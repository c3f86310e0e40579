/**
 * The powernode API: generated message schemas and service descriptors, re-exported by name.
 * Generated code lives in `./gen` (committed, never edited; `bun run gen` rewrites it).
 */

export { type AttestedModule, attestationPayload } from "./attestation.ts";
export {
  CatalogService,
  type Module,
  ModuleSchema,
  type ModuleVersion,
  ModuleVersionSchema,
} from "./gen/powernode/v1/catalog_pb.ts";
export { Arch, ArchSchema, Severity, SeveritySchema } from "./gen/powernode/v1/common_pb.ts";
export { type FleetEvent, FleetEventSchema } from "./gen/powernode/v1/events_pb.ts";
export {
  FleetService,
  type Node,
  NodeSchema,
  NodeState,
  NodeStateSchema,
} from "./gen/powernode/v1/fleet_pb.ts";
export {
  type Condition,
  ConditionSchema,
  type DesiredState,
  DesiredStateSchema,
  type EnrollRequest,
  EnrollRequestSchema,
  type EnrollResponse,
  EnrollResponseSchema,
  type HeartbeatRequest,
  HeartbeatRequestSchema,
  type HeartbeatResponse,
  HeartbeatResponseSchema,
  type ModuleAssignment,
  ModuleAssignmentSchema,
  type ModuleObservation,
  ModuleObservationSchema,
  NodeService,
  type PhaseEvent,
  PhaseEventSchema,
  type ReportStatusRequest,
  ReportStatusRequestSchema,
  type WatchDesiredStateResponse,
  WatchDesiredStateResponseSchema,
} from "./gen/powernode/v1/node_pb.ts";
export { type Instance, InstanceSchema, ProvisionService } from "./gen/powernode/v1/provision_pb.ts";
