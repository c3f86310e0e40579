/**
 * The disk-images feature: the CI webhook a build system calls when it has published a disk image
 * (`POST /webhooks/disk-image/built/<id>`, HMAC-signed, always 200), the publications it records and
 * verifies against the registry, and DiskImageService for operators (decision 0027).
 */
import { DiskImageService } from "@powernode/proto";
import { bindService, type Feature } from "../feature.ts";
import { createDiskImageService } from "./disk-image-service.ts";
import { verifyQueued } from "./publications.ts";
import { webhookRoutes } from "./webhook-route.ts";

export const diskImagesFeature: Feature = {
  name: "disk-images",
  services: [
    bindService({
      service: DiskImageService,
      principals: {
        createWebhook: "operator",
        listWebhooks: "operator",
        deleteWebhook: "operator",
        listPublications: "operator",
      },
      create: createDiskImageService,
    }),
  ],
  http: [(deps) => webhookRoutes(deps)],
  jobs: [
    {
      // Reports whose check did not finish (a restart mid-way) are verified again.
      name: "disk-image-verify",
      everyMs: 300_000,
      atStart: true,
      run: async (deps) => {
        await verifyQueued(deps);
      },
    },
  ],
};
