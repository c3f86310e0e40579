/**
 * The part of the API a browser can load (the web console): generated services, messages and enums and
 * the event-kind catalog, without the Node-only helpers of `index.ts` (attestation payloads and
 * membership credentials use node:crypto). `@powernode/proto/browser`.
 */

export { EVENTS, type EventKind, type EventSeverity, eventKind } from "./event-kinds.ts";
export { CatalogService, type Module, type ModuleVersion } from "./gen/powernode/v1/catalog_pb.ts";
export { type ClaimedDevice, ClaimService } from "./gen/powernode/v1/claims_pb.ts";
export { Arch, Severity } from "./gen/powernode/v1/common_pb.ts";
export type { FleetEvent } from "./gen/powernode/v1/events_pb.ts";
export { FederationService, type MemberSlot } from "./gen/powernode/v1/federation_pb.ts";
export {
  FleetService,
  type GetNodeModulesResponse,
  type Node,
  type NodeModule,
  NodeState,
  type WatchEventsRequest,
  type WatchEventsResponse,
} from "./gen/powernode/v1/fleet_pb.ts";
export type { ModuleAssignment, ModuleObservation } from "./gen/powernode/v1/modules_pb.ts";
export {
  type MeshMemberHealth,
  type MeshPeerHealth,
  type Network,
  NetworkService,
} from "./gen/powernode/v1/network_pb.ts";
export { type Instance, ProvisionService, type Template } from "./gen/powernode/v1/provision_pb.ts";
