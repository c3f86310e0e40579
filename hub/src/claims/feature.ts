/**
 * The claims feature: unknown hardware in claim mode. DeviceClaimService for devices with no
 * identity (principal `bootstrap`: TLS listener only, since a claimed device's poll carries a
 * bootstrap token), ClaimService for operators (list, confirm with a template, reject).
 */
import { ClaimService, DeviceClaimService } from "@powernode/proto";
import { bindService, type Feature } from "../feature.ts";
import { createClaimService, createDeviceClaimService } from "./claim-service.ts";

export const claimsFeature: Feature = {
  name: "claims",
  services: [
    bindService({
      service: DeviceClaimService,
      principals: { discoverDevice: "bootstrap", pollClaim: "bootstrap" },
      create: createDeviceClaimService,
    }),
    bindService({
      service: ClaimService,
      principals: { listClaims: "operator", confirmClaim: "operator", rejectClaim: "operator" },
      create: createClaimService,
    }),
  ],
};
