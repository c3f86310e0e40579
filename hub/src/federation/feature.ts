/**
 * The federation feature: peerings with other hubs over mutual TLS. FederationService for operators
 * (propose, accept, list, get, revoke, read a peer); FederationPeerService for other hubs on the TLS
 * listener: Hello is public (a CA certificate), Accept needs the acceptance token on the TLS listener
 * (`bootstrap`), everything else the `peer-hub` principal (federation/peer-identity.ts). What a peer
 * may read is listed in peer-reads.ts. Cluster members' replication lag is in `/metrics`
 * (replication-metrics.ts).
 */
import { FederationPeerService, FederationService } from "@powernode/proto";
import { bindService, type Feature } from "../feature.ts";
import { createFederationPeerService, createFederationService } from "./federation-service.ts";
import { replicationMetrics } from "./replication-metrics.ts";

export const federationFeature: Feature = {
  name: "federation",
  services: [
    bindService({
      service: FederationService,
      principals: {
        proposePeering: "operator",
        acceptPeering: "operator",
        listPeers: "operator",
        getPeer: "operator",
        revokePeer: "operator",
        getPeerFleetSummary: "operator",
        listPeerCatalog: "operator",
        createMemberSlot: "operator",
        listMemberSlots: "operator",
      },
      create: createFederationService,
    }),
    bindService({
      service: FederationPeerService,
      principals: {
        hello: "public",
        accept: "bootstrap",
        complete: "peer-hub",
        getFleetSummary: "peer-hub",
        listCatalog: "peer-hub",
        revoked: "peer-hub",
      },
      create: createFederationPeerService,
    }),
  ],
  http: [replicationMetrics],
};
