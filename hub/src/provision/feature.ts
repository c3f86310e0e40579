/**
 * The provision feature: ProvisionService (instances, templates, module assignment) and the
 * desired-state sections it owns: `modules` (resolved from the catalog) and `debug` (test hooks).
 */
import { ProvisionService } from "@powernode/proto";
import { bindService, type Feature } from "../feature.ts";
import { debugSection } from "./debug-section.ts";
import { modulesSection } from "./module-assignments.ts";
import { createProvisionService } from "./provision-service.ts";

export const provisionFeature: Feature = {
  name: "provision",
  services: [
    bindService({
      service: ProvisionService,
      principals: {
        createInstance: "operator",
        getInstance: "operator",
        listInstances: "operator",
        startInstance: "operator",
        stopInstance: "operator",
        deleteInstance: "operator",
        issueBootstrapToken: "operator",
        assignModules: "operator",
        createTemplate: "operator",
        listTemplates: "operator",
      },
      create: createProvisionService,
    }),
  ],
  sections: [modulesSection, debugSection],
};
