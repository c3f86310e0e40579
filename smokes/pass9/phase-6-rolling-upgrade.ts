/**
 * Phase 6, rolling module upgrade (predecessor seed 26, `smoke_test_k3s_rolling_upgrade.rb`, which only
 * planned): ModuleRolloutService over a template of four nodes running k3s-server, planned (canary first
 * and alone, batches of 25%, every node covered) and executed. The nodes are fakes that heartbeat what
 * their desired state assigns as mounted, and report a broken version failed, as the agent does
 * (hub/test/module-node-fake.ts; the site tier runs it on QEMU nodes, site-rollout.ts). A good version
 * goes through every batch and the template names it. A broken one stops at the canary, which is
 * rolled back, and the others keep the good version.
 */
import {
  Arch,
  ModuleRolloutService,
  ModuleRolloutNodeState as NS,
  ProvisionService,
  ModuleRolloutState as RS,
} from "@powernode/proto";
import { operatorClient } from "../../hub/test/harness.ts";
import { type ModuleNodeFake, moduleNodeFake } from "../../hub/test/module-node-fake.ts";
import { waitFor } from "../lib/wait.ts";
import { expectEqual } from "../pass2/k3s-env.ts";
import type { SiteCtx } from "./site.ts";

const MODULE = "k3s-server";
const V1 = "1.30.4-k3s1";
const V2 = "1.30.5-k3s1";
const BROKEN = "1.30.6-k3s1-broken";
const NODES = 4;

export async function rollingUpgrade(site: SiteCtx): Promise<void> {
  await rolloutChecks(site);
}

export async function rolloutChecks(site: SiteCtx): Promise<void> {
  const { t, s, env, x } = site;
  const rollouts = operatorClient(s.hub, ModuleRolloutService);
  const template = `k3s-${x}-upgrade-${env.stamp}`;
  const nodes = await t.step(`template ${template}: ${MODULE} ${V1}, ${NODES} nodes`, async () => {
    const have = (await s.catalog.listModules({})).modules.some((m) => m.name === MODULE);
    if (!have)
      await s.catalog.createModule({ name: MODULE, description: "pass 9 rolling upgrade", priority: 40 });
    const versions = (await s.catalog.getModule({ name: MODULE })).versions.map((v) => v.version);
    for (const [i, version] of [V1, V2, BROKEN].entries()) {
      if (versions.includes(version)) continue;
      const d = "cde"[i] ?? "f";
      await s.catalog.createModuleVersion({
        moduleName: MODULE,
        version,
        arch: Arch.AMD64,
        fsverityDigest: d.repeat(64),
        verityRootHash: d.repeat(64),
        ociDigest: `sha256:${d.repeat(64)}`,
      });
    }
    await operatorClient(s.hub, ProvisionService).createTemplate({
      name: template,
      modules: [{ name: MODULE, version: V1 }],
    });
    const out: ModuleNodeFake[] = [];
    for (let i = 1; i <= NODES; i++)
      out.push(await moduleNodeFake(s.hub, `${template}-${i}`, template, [BROKEN]));
    return out;
  });
  const assigned = () => Promise.all(nodes.map((n) => n.assigned(MODULE)));
  const status = async (id: string) => (await rollouts.getModuleRollout({ id })).rollout;
  const until = <T>(what: string, done: () => Promise<T | undefined>) =>
    waitFor(
      what,
      async () => {
        for (const n of nodes) await n.beat();
        await s.hub.scheduler.runNow("module-rollouts");
        return done();
      },
      { timeoutMs: 30_000, intervalMs: 100 },
    );

  await t.check("plan (batch 25%): the canary first and alone, every node in one batch", async () => {
    const plan = await rollouts.planModuleRollout({
      template,
      module: MODULE,
      version: V2,
      batchPercent: 25,
    });
    const batches = plan.batches.map((b) => b.nodes.map((n) => n.nodeName));
    expectEqual("total", plan.totalNodes, NODES);
    expectEqual("covered", batches.flat().sort(), nodes.map((n) => n.name).sort());
    // 25% of 4 nodes: one per batch, the canary first.
    expectEqual(
      "batch sizes",
      batches.map((b) => b.length),
      [1, 1, 1, 1],
    );
    expectEqual("canary", batches[0], [nodes[0]?.name]);
    return `${batches.length} batches: ${batches.map((b) => b.length).join(", ")}`;
  });
  const good = await t.step(`StartModuleRollout ${MODULE} ${V2}`, async () => {
    const r = (await rollouts.startModuleRollout({ template, module: MODULE, version: V2, batchPercent: 25 }))
      .rollout;
    return r?.id ?? "";
  });
  await t.check("only the canary is given the version at the start", async () =>
    expectEqual("assigned", await assigned(), [V2, V1, V1, V1]),
  );
  await t.check("executed: every batch passes its gate, the template names the version", async () => {
    const r = await until("the rollout to succeed", async () => {
      const v = await status(good);
      return v?.state === RS.SUCCEEDED ? v : undefined;
    });
    expectEqual("assigned", await assigned(), [V2, V2, V2, V2]);
    const tpl = (await s.provision.listTemplates({})).templates.find((x) => x.name === template);
    expectEqual("template", tpl?.modules.find((m) => m.name === MODULE)?.version, V2);
    return `${r.batches.length} batches updated`;
  });
  const bad = await t.step(`StartModuleRollout of the broken ${BROKEN}`, async () => {
    const r = (
      await rollouts.startModuleRollout({ template, module: MODULE, version: BROKEN, batchPercent: 25 })
    ).rollout;
    return r?.id ?? "";
  });
  await t.check(
    "the broken version stops at the canary, which is rolled back; the others never see it",
    async () => {
      const r = await until("the rollout to fail with its canary rolled back", async () => {
        const v = await status(bad);
        return v?.state === RS.FAILED && v.batches[0]?.nodes[0]?.state === NS.ROLLED_BACK ? v : undefined;
      });
      const later = r.batches.slice(1).flatMap((b) => b.nodes.map((n) => n.state));
      if (later.some((st) => st !== NS.PENDING))
        throw new Error(`later batches: ${later.map((st) => NS[st]).join(", ")}`);
      expectEqual("assigned", await assigned(), [V2, V2, V2, V2]);
      return r.error.slice(0, 160);
    },
  );
}
