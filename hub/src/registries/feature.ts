/**
 * The registries feature: OCI registries nodes pull module artifacts from besides the hub (an
 * operator's registry, mirrors), with their pull credentials. RegistryService for operators,
 * RegistryNodeService for nodes (the credential of one location, when a registry challenges). The
 * pull locations themselves are compiled into the `modules` section (provision/module-assignments.ts).
 */
import { RegistryNodeService, RegistryService } from "@powernode/proto";
import { bindService, type Feature } from "../feature.ts";
import { createRegistryNodeService, createRegistryService } from "./registry-service.ts";

export const registriesFeature: Feature = {
  name: "registries",
  services: [
    bindService({
      service: RegistryService,
      principals: { putRegistry: "operator", listRegistries: "operator", deleteRegistry: "operator" },
      create: createRegistryService,
    }),
    bindService({
      service: RegistryNodeService,
      principals: { getPullCredential: "node" },
      create: createRegistryNodeService,
    }),
  ],
};
