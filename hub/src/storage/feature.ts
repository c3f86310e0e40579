/**
 * The storage feature: NFS shares over overlay networks (self-hosted on a node, or an upstream
 * re-exported by a gateway node), StorageService for operators, and the desired state's `storage`
 * section (exports on the export host, the gateway's upstream mount, mounts on the clients), and
 * StorageNodeService for export hosts (the fscrypt key of an encrypted export).
 */
import { StorageNodeService, StorageService } from "@powernode/proto";
import { defineSection } from "../desired-state/index.ts";
import { bindService, type Feature } from "../feature.ts";
import { compileStorageSection } from "./section.ts";
import { createStorageNodeService, createStorageService } from "./storage-service.ts";
import { storageViewsFor } from "./storages.ts";

export const storageFeature: Feature = {
  name: "storage",
  services: [
    bindService({
      service: StorageService,
      principals: {
        createStorage: "operator",
        listStorages: "operator",
        getStorage: "operator",
        deleteStorage: "operator",
        assignStorage: "operator",
        unassignStorage: "operator",
      },
      create: createStorageService,
    }),
    bindService({
      service: StorageNodeService,
      principals: { getExportKey: "node" },
      create: createStorageNodeService,
    }),
  ],
  sections: [
    defineSection({
      section: "storage",
      compile: async (tx, node) => compileStorageSection(node.id, await storageViewsFor(tx, node.id)),
    }),
  ],
};
