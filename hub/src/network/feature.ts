/**
 * The network feature: overlay networks (the WireGuard mesh). NetworkService for operators,
 * MeshSyncService (peer lists as snapshot + deltas) for nodes, the desired state's `network` section,
 * the mesh part of heartbeats, and a job that refreshes credentials before they expire.
 */
import { MeshSyncService, NetworkService } from "@powernode/proto";
import { bindService, type Feature } from "../feature.ts";
import { refreshCredentialsJob } from "./member-credentials.ts";
import { recordMeshReports } from "./mesh-reports.ts";
import { createMeshSyncService } from "./mesh-sync-service.ts";
import { createNetworkService } from "./network-service.ts";
import { networkSection } from "./section.ts";

export const networkFeature: Feature = {
  name: "network",
  services: [
    bindService({
      service: NetworkService,
      principals: {
        createNetwork: "operator",
        listNetworks: "operator",
        getNetwork: "operator",
        deleteNetwork: "operator",
        joinNetwork: "operator",
        leaveNetwork: "operator",
        listMembers: "operator",
        revokeCredential: "operator",
        issueCredential: "operator",
        getMeshHealth: "operator",
        joinOperatorPeer: "operator",
        leaveOperatorPeer: "operator",
      },
      create: createNetworkService,
    }),
    bindService({
      service: MeshSyncService,
      principals: { watchMeshPeers: "node" },
      create: createMeshSyncService,
    }),
  ],
  sections: [networkSection],
  heartbeat: recordMeshReports,
  jobs: [{ name: "refresh membership credentials", everyMs: 60_000, run: refreshCredentialsJob }],
};
