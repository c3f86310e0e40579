/**
 * `pnctl rollout plan|start|status|ls|abort`: rolling module upgrades over a template, the canary
 * first, then batches by percentage, each gated on its nodes reporting the version mounted and
 * verified (docs/runbooks/module-rollout.md, decision 0042).
 */
import {
  type ModuleRollout,
  ModuleRolloutNodeState,
  ModuleRolloutService,
  ModuleRolloutState,
} from "@powernode/proto";
import { flag } from "./args.ts";
import {
  type CommandContext,
  type CommandGroup,
  fields,
  required,
  table,
  ts,
  UsageError,
  unknownVerb,
} from "./shared.ts";

const stateName = (s: ModuleRolloutState) => (ModuleRolloutState[s] ?? String(s)).toLowerCase();
const nodeStateName = (s: ModuleRolloutNodeState) => (ModuleRolloutNodeState[s] ?? String(s)).toLowerCase();

function rolloutView(r: ModuleRollout | undefined) {
  return {
    id: r?.id ?? "",
    template: r?.templateName ?? "",
    module: r?.module ?? "",
    fromVersion: r?.fromVersion || "(newest)",
    toVersion: r?.toVersion ?? "",
    state: stateName(r?.state ?? ModuleRolloutState.UNSPECIFIED),
    batch: `${(r?.currentBatch ?? 0) + 1}/${r?.batches.length ?? 0}`,
    batchPercent: r?.batchPercent ?? 0,
    batchTimeoutSeconds: r?.batchTimeoutSeconds ?? 0,
    error: r?.error ?? "",
    createdAt: ts(r?.createdAt),
    finishedAt: ts(r?.finishedAt),
    nodes: (r?.batches ?? []).flatMap((b) =>
      b.nodes.map((n) => ({
        batch: b.index === 0 ? "canary" : String(b.index),
        nodeId: n.nodeId,
        node: n.nodeName,
        state: nodeStateName(n.state),
        startedAt: ts(n.startedAt),
        finishedAt: ts(n.finishedAt),
        error: n.error,
      })),
    ),
  };
}

function statusLines(v: ReturnType<typeof rolloutView>): string[] {
  const { nodes, ...head } = v;
  return [
    ...fields(head),
    "",
    ...table([
      ["BATCH", "NODE", "STATE", "STARTED", "FINISHED", "ERROR"],
      ...nodes.map((n) => [n.batch, n.node, n.state, n.startedAt, n.finishedAt, n.error || "-"]),
    ]),
  ];
}

function wholeFlag(ctx: CommandContext, name: string): number {
  const raw = flag(ctx.args, name);
  if (raw === undefined) return 0;
  if (!/^\d+$/.test(raw)) throw new UsageError(`--${name}: "${raw}" is not a whole number`);
  return Number(raw);
}

/** TEMPLATE MODULE VERSION [--batch-percent N]. */
function request(ctx: CommandContext) {
  return {
    template: required(ctx, 0, "TEMPLATE"),
    module: required(ctx, 1, "MODULE"),
    version: required(ctx, 2, "VERSION"),
    batchPercent: wholeFlag(ctx, "batch-percent"),
  };
}

export const rolloutCommands: CommandGroup = {
  name: "rollout",
  usage: `  rollout plan TEMPLATE MODULE VERSION [--batch-percent N]   (the batches, canary first; default 25%)
  rollout start TEMPLATE MODULE VERSION [--batch-percent N] [--batch-timeout SECONDS]
  rollout status ID | ls [--template T] | abort ID   (abort rolls back the batch in flight)`,
  async run(ctx) {
    const svc = ctx.client(ModuleRolloutService);
    switch (ctx.verb) {
      case "plan": {
        const req = request(ctx);
        const plan = await svc.planModuleRollout(req);
        const batches = plan.batches.map((b) => ({
          batch: b.index === 0 ? "canary" : String(b.index),
          nodes: b.nodes.map((n) => n.nodeName),
        }));
        ctx.print({ totalNodes: plan.totalNodes, fromVersion: plan.fromVersion, batches }, () => [
          `${req.module} ${plan.fromVersion || "(newest)"} -> ${req.version} over ${plan.totalNodes} node(s) of ${req.template}, ${batches.length} batch(es):`,
          ...table([["BATCH", "NODES"], ...batches.map((b) => [b.batch, b.nodes.join(", ")])]),
        ]);
        return 0;
      }
      case "start": {
        const r = await svc.startModuleRollout({
          ...request(ctx),
          batchTimeoutSeconds: wholeFlag(ctx, "batch-timeout"),
        });
        const v = rolloutView(r.rollout);
        ctx.print(v, () => [
          `rollout ${v.id}: ${v.module} ${v.fromVersion} -> ${v.toVersion} over template ${v.template}, ${v.nodes.length} node(s) in ${r.rollout?.batches.length ?? 0} batch(es), the canary first`,
          `  follow it: pnctl rollout status ${v.id}`,
        ]);
        return 0;
      }
      case "status": {
        const v = rolloutView((await svc.getModuleRollout({ id: required(ctx, 0, "ID") })).rollout);
        ctx.print(v, () => statusLines(v));
        return 0;
      }
      case "ls": {
        const rows = (
          await svc.listModuleRollouts({ template: flag(ctx.args, "template") ?? "" })
        ).rollouts.map(rolloutView);
        ctx.print(rows, () =>
          table([
            ["ID", "TEMPLATE", "MODULE", "FROM", "TO", "STATE", "BATCH", "CREATED"],
            ...rows.map((r) => [
              r.id,
              r.template,
              r.module,
              r.fromVersion,
              r.toVersion,
              r.state,
              r.batch,
              r.createdAt,
            ]),
          ]),
        );
        return 0;
      }
      case "abort": {
        const v = rolloutView((await svc.abortModuleRollout({ id: required(ctx, 0, "ID") })).rollout);
        ctx.print(v, () => [
          `rollout ${v.id}: aborted at batch ${v.batch}; that batch is rolled back, earlier ones keep ${v.toVersion}`,
        ]);
        return 0;
      }
      default:
        return unknownVerb(ctx, rolloutCommands);
    }
  },
};
