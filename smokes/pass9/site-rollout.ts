/**
 * Pass 9, site tier: a rolling module upgrade across three QEMU nodes of one template, executed by
 * the hub and swapped live by the agents. A good version goes to the canary first and alone, then to
 * the other two. A broken version (its catalog row claims a metadata digest the image does not have)
 * fails on the canary, the rollout stops, and the canary is rolled back. The other nodes' desired
 * states never name it.
 */
import {
  ModuleRolloutService,
  NodeState,
  ModuleRolloutNodeState as NS,
  ModuleRolloutState as RS,
} from "@powernode/proto";
import { and, eq, inArray } from "drizzle-orm";
import { desiredStates, templates } from "../../hub/src/db/schema/index.ts";
import { operatorClient } from "../../hub/test/harness.ts";
import type { PassContext } from "../lib/pass.ts";
import type { SiteNode, SiteNodes } from "../lib/site-nodes.ts";
import { waitFor } from "../lib/wait.ts";

/** Long enough for a fetch and a live swap on three TCG nodes sharing two cores. */
const BATCH_TIMEOUT_SECONDS = 240;

export interface RolloutVersions {
  template: string;
  module: string;
  /** What the template names at the start. */
  v1: string;
  /** The good target (another build: other bytes). */
  v2: string;
  /** The broken target (a wrong metadata digest in its catalog row). */
  broken: string;
}

/** A protobuf timestamp in milliseconds (0 when unset). */
const ms = (t: { seconds: bigint; nanos: number } | undefined) =>
  t ? Number(t.seconds) * 1000 + t.nanos / 1e6 : 0;

/** Waits until every node reports `module` at `version` mounted; returns seconds waited. */
async function allMounted(site: SiteNodes, nodes: readonly SiteNode[], module: string, version: string) {
  const t0 = performance.now();
  await waitFor(
    `${module} ${version} mounted on ${nodes.map((n) => n.name).join(", ")}`,
    () =>
      nodes.every((n) =>
        site.hub.hub.deps.attestation
          .lastObserved(n.instanceId)
          ?.modules.some((m) => m.name === module && m.version === version && m.state === "mounted"),
      ) || undefined,
    { timeoutMs: 300_000, intervalMs: 1000 },
  );
  return (performance.now() - t0) / 1000;
}

export async function siteRolloutChecks(t: PassContext, site: SiteNodes, v: RolloutVersions): Promise<void> {
  const rollouts = operatorClient(site.hub.hub, ModuleRolloutService);
  const { module } = v;
  const [canary, ...rest] = [...site.nodes].sort((a, b) => (a.name < b.name ? -1 : 1)) as SiteNode[];
  if (!canary) throw new Error("no nodes");
  await t.check(`every node runs ${module} ${v.v1} from the template`, async () => {
    const s = await allMounted(site, site.nodes, module, v.v1);
    return `${site.nodes.length} nodes, ${s.toFixed(1)} s`;
  });

  const status = async (id: string) => {
    const r = (await rollouts.getModuleRollout({ id })).rollout;
    if (!r) throw new Error(`rollout ${id}: none`);
    return r;
  };
  const good = await t.step(`start a rollout of ${module} ${v.v2} at 50%`, async () => {
    const plan = await rollouts.planModuleRollout({
      template: v.template,
      module,
      version: v.v2,
      batchPercent: 50,
    });
    t.info(`plan: ${plan.batches.map((b) => `[${b.nodes.map((n) => n.nodeName).join(" ")}]`).join(" ")}`);
    const r = (
      await rollouts.startModuleRollout({
        template: v.template,
        module,
        version: v.v2,
        batchPercent: 50,
        batchTimeoutSeconds: BATCH_TIMEOUT_SECONDS,
      })
    ).rollout;
    return r?.id ?? "";
  });
  const t0 = performance.now();
  const done = await t.step("the rollout succeeds", () =>
    waitFor(
      `rollout ${good} to succeed (pnctl rollout status ${good})`,
      async () => {
        const r = await status(good);
        if (r.state === RS.FAILED || r.state === RS.ABORTED)
          throw new Error(`rollout ${RS[r.state]}: ${r.error}`);
        return r.state === RS.SUCCEEDED ? r : undefined;
      },
      { timeoutMs: 3 * BATCH_TIMEOUT_SECONDS * 1000, intervalMs: 1000 },
    ),
  );
  t.info(`rollout of ${v.v2} succeeded in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  await t.check("canary first and alone: the others were given the version after it passed", () => {
    const [first, second] = done.batches;
    const c = first?.nodes[0];
    if (first?.nodes.length !== 1 || c?.nodeName !== canary.name)
      throw new Error(`batch 0: ${first?.nodes.map((n) => n.nodeName).join(", ")}`);
    const cEnd = ms(c.finishedAt);
    const late = (second?.nodes ?? []).filter((n) => ms(n.startedAt) < cEnd);
    if (late.length > 0 || second?.nodes.length !== rest.length || cEnd === 0)
      throw new Error(`batch 1 started before the canary passed: ${late.map((n) => n.nodeName).join(", ")}`);
    return `canary ${c.nodeName} updated ${((cEnd - ms(c.startedAt)) / 1000).toFixed(1)} s after it was given the version; ${second.nodes
      .map((n) => `${n.nodeName} given it ${((ms(n.startedAt) - cEnd) / 1000).toFixed(2)} s after that`)
      .join(", ")}`;
  });
  await t.check(`every node reports ${module} ${v.v2} mounted with the catalog's digests`, async () => {
    await allMounted(site, site.nodes, module, v.v2);
    const states = await Promise.all(
      site.nodes.map(async (n) => (await site.hub.fleet.getNode({ id: n.instanceId })).node?.state),
    );
    if (states.some((s) => s !== NodeState.RUNNING))
      throw new Error(
        `node states ${states.map((s) => NodeState[s ?? 0]).join(", ")} (want RUNNING: no drift)`,
      );
    return site.nodes.map((n) => n.name).join(", ");
  });
  await t.check(`the template names ${v.v2}`, async () => {
    const [tpl] = await site.hub.hub.deps.db.select().from(templates).where(eq(templates.name, v.template));
    const ref = tpl?.modules.find((m) => m.name === module);
    if (ref?.version !== v.v2) throw new Error(`template ${JSON.stringify(ref)}`);
    return `${module}@${ref.version}`;
  });

  const bad = await t.step(`start a rollout of the broken ${module} ${v.broken}`, async () => {
    const r = (
      await rollouts.startModuleRollout({
        template: v.template,
        module,
        version: v.broken,
        batchPercent: 50,
        batchTimeoutSeconds: BATCH_TIMEOUT_SECONDS,
      })
    ).rollout;
    return r?.id ?? "";
  });
  const failed = await t.step("the canary fails the gate; the rollout stops and rolls it back", () =>
    waitFor(
      `rollout ${bad} to fail with its canary rolled back`,
      async () => {
        const r = await status(bad);
        return r.state === RS.FAILED && r.batches[0]?.nodes[0]?.state === NS.ROLLED_BACK ? r : undefined;
      },
      { timeoutMs: 2 * BATCH_TIMEOUT_SECONDS * 1000, intervalMs: 1000 },
    ),
  );
  await t.check("the rollout failed at the canary, naming the node and the failure", () => {
    if (!failed.error.startsWith(`the canary failed: ${canary.name}:`)) throw new Error(failed.error);
    return failed.error.slice(0, 200);
  });
  await t.check(
    "the other nodes were never given it (pending; no desired state of theirs names it)",
    async () => {
      const others = failed.batches.slice(1).flatMap((b) => b.nodes);
      if (others.some((n) => n.state !== NS.PENDING))
        throw new Error(others.map((n) => `${n.nodeName}:${NS[n.state]}`).join(", "));
      const docs = await site.hub.hub.deps.db
        .select({ document: desiredStates.document })
        .from(desiredStates)
        .where(
          and(
            inArray(
              desiredStates.instanceId,
              rest.map((n) => n.instanceId),
            ),
          ),
        );
      const named = docs.filter((d) => JSON.stringify(d.document).includes(`"${v.broken}"`));
      if (named.length > 0) throw new Error(`${named.length} desired-state version(s) name ${v.broken}`);
      return `${others.map((n) => n.nodeName).join(", ")} pending; ${docs.length} desired-state versions checked`;
    },
  );
  await t.check(
    `the canary kept ${module} ${v.v2} mounted and is RUNNING (the broken bytes never mounted)`,
    async () => {
      await allMounted(site, [canary], module, v.v2);
      const seen = site.hub.hub.deps.attestation.lastObserved(canary.instanceId)?.modules ?? [];
      if (seen.some((m) => m.version === v.broken && m.state === "mounted"))
        throw new Error(`${v.broken} reported mounted`);
      await waitFor(
        `${canary.name} RUNNING (no drift)`,
        async () =>
          (await site.hub.fleet.getNode({ id: canary.instanceId })).node?.state === NodeState.RUNNING ||
          undefined,
        { timeoutMs: 60_000 },
      );
      return `${canary.name}: ${seen.map((m) => `${m.name} ${m.version} ${m.state}`).join(", ")}`;
    },
  );
}
