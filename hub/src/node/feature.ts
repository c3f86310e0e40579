/**
 * The node feature: NodeService, what agents speak (Enroll with a bootstrap token on the TLS listener
 * only, the rest with the node's client certificate on it).
 */
import { NodeService } from "@powernode/proto";
import { bindService, type Feature } from "../feature.ts";
import { createNodeService } from "./node-service.ts";

export const nodeFeature: Feature = {
  name: "node",
  services: [
    bindService({
      service: NodeService,
      principals: {
        enroll: "bootstrap",
        renewCertificate: "node",
        heartbeat: "node",
        watchDesiredState: "node",
        reportStatus: "node",
        attest: "node",
      },
      create: createNodeService,
    }),
  ],
};
