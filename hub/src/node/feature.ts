/** The node feature: NodeService, what agents speak (Enroll without a credential, the rest over mTLS). */
import { NodeService } from "@powernode/proto";
import { bindService, type Feature } from "../feature.ts";
import { createNodeService } from "./node-service.ts";

export const nodeFeature: Feature = {
  name: "node",
  services: [
    bindService({
      service: NodeService,
      principals: {
        enroll: "public",
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
