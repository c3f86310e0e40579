/** The catalog feature: CatalogService, the modules and versions nodes may be assigned. */
import { CatalogService } from "@powernode/proto";
import { bindService, type Feature } from "../feature.ts";
import { createCatalogService } from "./catalog-service.ts";

export const catalogFeature: Feature = {
  name: "catalog",
  services: [
    bindService({
      service: CatalogService,
      principals: {
        createModule: "operator",
        listModules: "operator",
        getModule: "operator",
        createModuleVersion: "operator",
        listModuleVersions: "operator",
        getModuleVersion: "operator",
      },
      create: createCatalogService,
    }),
  ],
};
