/**
 * The module-rollouts feature: rolling module upgrades over a template, the canary first, each batch
 * gated on its nodes reporting the version mounted and verified, a failed batch rolled back (decision
 * 0042, docs/runbooks/module-rollout.md). A heartbeat whose module report changed advances the
 * rollouts waiting on its node at once; the `module-rollouts` job every few seconds (timeouts,
 * rollbacks, resume after a restart).
 */
import { ModuleRolloutService } from "@powernode/proto";
import { bindService, type Feature } from "../feature.ts";
import { advanceModuleRollouts, nudgeModuleRollouts } from "./advance.ts";
import { createModuleRolloutService } from "./module-rollout-service.ts";

/**
 * Per hub (its database handle), per node: the last module report seen, so a heartbeat that repeats
 * it costs a string comparison.
 */
const lastReports = new WeakMap<object, Map<string, string>>();

export const moduleRolloutsFeature: Feature = {
  name: "module-rollouts",
  services: [
    bindService({
      service: ModuleRolloutService,
      principals: {
        planModuleRollout: "operator",
        startModuleRollout: "operator",
        getModuleRollout: "operator",
        listModuleRollouts: "operator",
        abortModuleRollout: "operator",
      },
      create: createModuleRolloutService,
    }),
  ],
  async heartbeat(deps, nodeId, req) {
    if (req.modules.length === 0) return;
    const report = req.modules.map((m) => `${m.name}@${m.version}:${m.state}`).join(",");
    const lastReport = lastReports.get(deps.db) ?? new Map<string, string>();
    lastReports.set(deps.db, lastReport);
    if (lastReport.get(nodeId) === report) return;
    if (lastReport.size > 100_000) lastReport.clear();
    lastReport.set(nodeId, report);
    await nudgeModuleRollouts(deps, nodeId);
  },
  jobs: [{ name: "module-rollouts", everyMs: 3_000, atStart: true, run: advanceModuleRollouts }],
};
