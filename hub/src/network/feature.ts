/**
 * The network feature: overlay networks (the WireGuard mesh). NetworkService for operators,
 * MeshSyncService (peer lists as snapshot + deltas) for nodes, the desired state's `network` section,
 * the mesh part of heartbeats, a job that refreshes credentials before they expire, and one that fails
 * a VIP over when its primary holder is lost (vip-failover-job.ts).
 */

import { MeshSyncService, NetworkService } from "@powernode/proto";
import { bindService, type Feature } from "../feature.ts";
import { forgetDeletedMember, forgetDeletedMembersJob } from "./deleted-members.ts";
import { refreshCredentialsJob } from "./member-credentials.ts";
import { recordMeshReports } from "./mesh-reports.ts";
import { createMeshSyncService } from "./mesh-sync-service.ts";
import { createNetworkService } from "./network-service.ts";
import { networkSection } from "./section.ts";
import { VIP_FAILOVER_JOB_MS, vipFailoverJob } from "./vip-failover-job.ts";

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
        listVips: "operator",
        failoverVip: "operator",
        listVipAssignments: "operator",
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
  async instanceDeleted(deps, nodeId) {
    await forgetDeletedMember(deps, nodeId);
  },
  jobs: [
    forgetDeletedMembersJob,
    { name: "refresh membership credentials", everyMs: 60_000, run: refreshCredentialsJob },
    { name: "vip failover", everyMs: VIP_FAILOVER_JOB_MS, run: vipFailoverJob },
  ],
};
