/**
 * The agent's resource vocabulary: what its controllers read and write (one writer per type, named
 * beside each). Ids are "node" for the per-node singletons.
 */
import type { DesiredState, MeshPeer, MeshPeerObservation, MeshReport, NfsExport } from "@powernode/proto";
import type { HubLink } from "../hub/hub-client.ts";
import type { NodePki } from "../pki/pki-store.ts";
import { defineResource } from "../runtime/resource-store.ts";
import type { VrfRouting } from "./sdwan/frr-state.ts";

/** Written by `credentials`: the node certificate in use. */
export const HubCredentials = defineResource<{
  pki: NodePki;
  /** True when this boot enrolled; false when a saved certificate was reused. */
  issued: boolean;
  /** The interval Enroll named (0: none). */
  heartbeatSeconds: number;
  /** Certificates renewed by this boot. */
  renewals: number;
}>("HubCredentials");

/** Written by `credentials`: the mTLS connection to the hub (replaced when the certificate is renewed). */
export const HubConnection = defineResource<{ link: HubLink; generation: number }>("HubConnection");

/** Written by `desired-state`: the last desired-state document received from the hub. */
export const DesiredNodeState = defineResource<DesiredState>("DesiredNodeState");

/**
 * Written by `heartbeat` when the hub refused the connection's certificate as revoked: `credentials`
 * drops it and enrolls again (when `generation` is still the connection in use).
 */
export const HubRefusal = defineResource<{ generation: number; message: string }>("HubRefusal");

/** Written by `heartbeat`. */
export const HeartbeatStatus = defineResource<{
  acked: number;
  /** The interval in use, seconds. */
  intervalSeconds: number;
  /** The desired version the hub last named. */
  hubDesiredVersion: bigint;
  /** Bumped each time heartbeats succeed again after failing (the desired-state stream may be dead). */
  recoveries: number;
}>("HeartbeatStatus");

/** One Heartbeat.modules entry. */
export interface ModuleObservation {
  name: string;
  version: string;
  metadataDigest: string;
  verityRootHash: string;
  state: "mounted" | "failed" | "pending";
  message: string;
}

/** Written by `modules`: what the node runs and observes. */
export const ModuleSetStatus = defineResource<{
  observations: ModuleObservation[];
  /** The desired-state version whose module set is in effect (undefined before the first). */
  appliedVersion: bigint | undefined;
  /** The composed root in effect. */
  root: string | undefined;
}>("ModuleSetStatus");

/** Written by `status-report`. */
export const StatusReportStatus = defineResource<{ reportsSent: number }>("StatusReportStatus");

/** Written by `mesh-peers`, one per mesh (id = network id): the peer list the hub streams. */
export const MeshPeers = defineResource<{
  /** The network's peer-list version this list is at. */
  version: bigint;
  /** By node id. */
  peers: MeshPeer[];
  /** Messages received on the current stream (a snapshot counts one). */
  messages: number;
}>("MeshPeers");

/** Written by `mesh`, one per mesh (id = network id): what the heartbeat reports for it. */
export const MeshStatus = defineResource<MeshReportShape>("MeshStatus");

/** Plain fields of a generated message (what a resource holds and a request accepts). */
type Fields<M> = Omit<M, "$typeName" | "$unknown">;

/** A MeshReport as the heartbeat sends it (the generated type's fields, plain). */
export type MeshReportShape = Omit<Fields<MeshReport>, "peers"> & { peers: Fields<MeshPeerObservation>[] };

/** Written by `debug-probes`: the desired-state version whose probes ran. */
export const DebugProbeStatus = defineResource<{ version: bigint; pings: number }>("DebugProbeStatus");

/** Written by `docker`: the node's managed Docker host as the agent runs it. */
export const DockerStatus = defineResource<{ hostId: string; running: boolean; version: string }>(
  "DockerStatus",
);

/**
 * Written by `debug-probes` (test-only): exports the node serves beside its storage section's, a
 * stand-in for a NAS outside the mesh (the desired state's `debug.nas`).
 */
export const DebugNasExports = defineResource<{ exports: NfsExport[] }>("DebugNasExports");

/** Written by `storage`: how many exports this node serves and the state of each share it mounts. */
export const StorageStatus = defineResource<{
  exports: number;
  mounts: { name: string; path: string; mounted: boolean; error: string }[];
}>("StorageStatus");

/** Written by `sdwan`: the section's host bridges and VRFs, what is on the node and what FRR routes. */
export const SdwanStatus = defineResource<{
  bridges: { name: string; kind: string; state: string; present: boolean }[];
  vrfs: { name: string; table: number; interface: string; enslaved: boolean }[];
  /** Per VRF with FRR running: sessions established and installed BGP routes. */
  routing: VrfRouting[];
}>("SdwanStatus");

/** Written by `k3s`: the node's k3s as the agent runs it. */
export const K3sStatus = defineResource<{
  clusterId: string;
  role: string;
  /** off (none desired), missing (no binary or root), running (started), ready. */
  state: "off" | "missing" | "running" | "ready";
  /** sha256 of the config.yaml written (empty before). */
  configSha256: string;
  version: string;
}>("K3sStatus");

/** A build the agent refused (download, digest or preflight) or rolled back from (no heartbeat). */
export interface FailedAgentBuild {
  version: string;
  sha256: string;
  reason: string;
}

/** Written by `agent-update`: what the heartbeat reports (the pid, the last failed build). */
export const AgentUpdateStatus = defineResource<{ pid: number; failed?: FailedAgentBuild }>(
  "AgentUpdateStatus",
);

/**
 * Written by `agent-update`: re-execute as PID 1 into `path` (the agent's owner stops the controllers
 * and the module set first, then calls execve; see boot/reexec.ts).
 */
export const AgentReexec = defineResource<{
  path: string;
  version: string;
  sha256: string;
  why: "update" | "rollback";
}>("AgentReexec");
