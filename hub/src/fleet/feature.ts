/** The fleet feature: FleetService, the operator's view of nodes, events and attestation. */
import { FleetService } from "@powernode/proto";
import { bindService, type Feature } from "../feature.ts";
import { createFleetService } from "./fleet-service.ts";

export const fleetFeature: Feature = {
  name: "fleet",
  services: [
    bindService({
      service: FleetService,
      principals: {
        listNodes: "operator",
        getNode: "operator",
        listEvents: "operator",
        revokeNodeCertificates: "operator",
        watchEvents: "operator",
        requestAttestation: "operator",
        getCaCertificate: "operator",
        getNodeModules: "operator",
      },
      create: createFleetService,
    }),
  ],
};
