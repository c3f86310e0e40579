/**
 * The CVE feature: vulnerability records matched against the package lists module versions record
 * from their builds (Debian version order) and against the nodes assigned them: exposure, a risk
 * score and a runbook (`pnctl cve drill`).
 */
import { CveService } from "@powernode/proto";
import { bindService, type Feature } from "../feature.ts";
import { createCveService } from "./cve-service.ts";

export const cveFeature: Feature = {
  name: "cve",
  services: [
    bindService({
      service: CveService,
      principals: { putCve: "operator", listCves: "operator", deleteCve: "operator", drillCve: "operator" },
      create: createCveService,
    }),
  ],
};
