/**
 * Pass 9: the K3s lifecycle in eight phases (predecessor seeds 21-28), against a real hub's APIs: the
 * node's half of K3s (K3sNodeService) called with each node's own certificate, the operator's half
 * (K3sService, NetworkService, ProvisionService, CveService, pnctl) with the admin token.
 *
 *   bun smokes/pass9.ts --tier db|single|site|full [--phase 1-8] [--site a|b] [--fresh] [--allow-missing]
 *
 * Phases: 1 site bootstrap, 2 HA control plane, 3 agent join, 4 pod plane, 5 federation (full only),
 * 6 rolling module upgrade, 7 CVE drill, 8 drain -> terminate -> reprovision. Without --phase all run in
 * order on a fresh site (its hub and its sidecar keys started over); with --phase N only that one runs,
 * on the hub and sidecar an earlier run left (smokes/out/state/pass9.json and pass9-site-<x>-<tier>/),
 * failing with the missing key and the phase to run first. The db tier is the whole contract and runs at
 * every tier. At site and above, a run of all phases then acts on three QEMU nodes
 * (pass9/site-lifecycle.ts): a rolling module upgrade with a broken version stopped at the canary, the
 * CVE drill on real package lists, drain -> terminate -> reprovision, VIP failover when the holder
 * dies. The checks that need a k3s binary (VMs running k3s, kubectl, tcpdump of pod traffic) are not
 * written: each says `missing: k3s binary` and fails unless --allow-missing.
 * Runbook: docs/runbooks/k3s-smoke-full-lifecycle.md.
 */
import { type Tier, tierAtLeast } from "./lib/args.ts";
import { definePass, runPass } from "./lib/pass.ts";
import { siteBootstrap } from "./pass9/phase-1-site-bootstrap.ts";
import { haControlPlane } from "./pass9/phase-2-ha-control-plane.ts";
import { agentJoin } from "./pass9/phase-3-agent-join.ts";
import { podPlane } from "./pass9/phase-4-pod-plane.ts";
import { federation } from "./pass9/phase-5-federation.ts";
import { rollingUpgrade } from "./pass9/phase-6-rolling-upgrade.ts";
import { cveDrill } from "./pass9/phase-7-cve-drill.ts";
import { drainReprovision } from "./pass9/phase-8-drain-reprovision.ts";
import { openSite, type SiteCtx, type SiteState } from "./pass9/site.ts";
import { siteLifecycleChecks } from "./pass9/site-lifecycle.ts";

interface Phase {
  title: string;
  /** Lowest tier at which the phase does anything (below it prints skipped). */
  minTier: Tier;
  /** The sidecar keys it reads (checked first when it runs alone). */
  needs: readonly (keyof SiteState)[];
  run(site: SiteCtx): Promise<void>;
}

const CLUSTER = ["cluster_id", "network_id", "network_name"] as const;

export const PHASES: Readonly<Record<number, Phase>> = {
  1: { title: "site bootstrap", minTier: "db", needs: [], run: siteBootstrap },
  2: {
    title: "HA control plane",
    minTier: "db",
    needs: [...CLUSTER, "instance_id", "peer_id"],
    run: haControlPlane,
  },
  3: { title: "agent join", minTier: "db", needs: [...CLUSTER, "ha_instance_ids"], run: agentJoin },
  4: {
    title: "pod plane",
    minTier: "db",
    needs: [...CLUSTER, "pod_cidr", "instance_id", "peer_id", "agent_instance_ids"],
    run: podPlane,
  },
  5: { title: "federation", minTier: "full", needs: [], run: federation },
  6: { title: "rolling module upgrade", minTier: "db", needs: [], run: rollingUpgrade },
  7: { title: "CVE drill", minTier: "db", needs: [], run: cveDrill },
  8: {
    title: "drain -> terminate -> reprovision",
    minTier: "db",
    needs: [...CLUSTER, "agent_instance_ids"],
    run: drainReprovision,
  },
};

export const pass9 = definePass({
  id: 9,
  title: "K3s lifecycle in eight phases (site, HA, agents, pod plane, federation, upgrade, CVE, reprovision)",
  minTier: "db",
  async run(t) {
    const site = await openSite(t);
    await t.step(`preflight: every cluster of site ${site.x}'s hub is the sidecar's`, async () => {
      const known = site.get("cluster_id");
      const stray = (await site.env.k3s.listClusters({})).clusters.filter((c) => c.id !== known);
      if (stray.length > 0)
        throw new Error(
          `clusters the sidecar does not record: ${stray.map((c) => c.name).join(", ")} (run without --phase, or with --fresh, to start over)`,
        );
    });
    const numbers = t.args.phase === undefined ? [1, 2, 3, 4, 5, 6, 7, 8] : [t.args.phase];
    for (const n of numbers) {
      const phase = PHASES[n];
      if (!phase) throw new Error(`no phase ${n}`);
      const started = Date.now();
      t.info(
        `== phase ${n}/8 ${phase.title} (site ${site.x}, tier ${t.args.tier}, needs ${phase.minTier}) ==`,
      );
      if (t.args.phase !== undefined && phase.needs.length > 0)
        await t.step(`phase ${n}: the sidecar has ${phase.needs.join(", ")}`, async () => {
          for (const key of phase.needs) site.need(key, n);
        });
      await phase.run(site);
      if (tierAtLeast(t.args.tier, phase.minTier))
        t.info(`phase ${n}: ${((Date.now() - started) / 1000).toFixed(1)} s`);
    }
    if (tierAtLeast(t.args.tier, "site")) {
      if (t.args.phase !== undefined) t.info("site tier: the QEMU checks run with all phases (no --phase)");
      else {
        t.info("== site: phases 2, 6, 7 and 8 on three QEMU nodes ==");
        await siteLifecycleChecks(t);
      }
    }
  },
});

if (import.meta.main) await runPass(pass9);
