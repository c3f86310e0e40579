/**
 * `pnctl agent rollout start|status|list|abort`: rolling agent updates over a template, one node at a
 * time (docs/runbooks/agent-update.md#rolling-a-build-over-a-template, decision 0030).
 */
import { type AgentRollout, AgentRolloutState, AgentRolloutStepState, AgentService } from "@powernode/proto";
import { flag } from "./args.ts";
import { type CommandContext, fields, required, table, ts, UsageError } from "./shared.ts";

export const agentRolloutUsage = `  agent rollout start TEMPLATE VERSION [--max-failures N] [--step-timeout SECONDS]
                                     (one node of the template at a time; stops after N+1 failures)
  agent rollout status ID | list [--template T] | abort ID`;

const stateName = (s: AgentRolloutState) => (AgentRolloutState[s] ?? String(s)).toLowerCase();
const stepStateName = (s: AgentRolloutStepState) => (AgentRolloutStepState[s] ?? String(s)).toLowerCase();

function rolloutView(r: AgentRollout | undefined) {
  return {
    id: r?.id ?? "",
    template: r?.templateName ?? "",
    templateId: r?.templateId ?? "",
    version: r?.version ?? "",
    state: stateName(r?.state ?? AgentRolloutState.UNSPECIFIED),
    maxFailures: r?.maxFailures ?? 0,
    failures: r?.failures ?? 0,
    stepTimeoutSeconds: r?.stepTimeoutSeconds ?? 0,
    error: r?.error ?? "",
    createdAt: ts(r?.createdAt),
    finishedAt: ts(r?.finishedAt),
    steps: (r?.steps ?? []).map((s) => ({
      nodeId: s.nodeId,
      node: s.nodeName,
      state: stepStateName(s.state),
      fromVersion: s.fromVersion,
      startedAt: ts(s.startedAt),
      finishedAt: ts(s.finishedAt),
      error: s.error,
    })),
  };
}

type RolloutView = ReturnType<typeof rolloutView>;

const counts = (v: RolloutView) => {
  const done = v.steps.filter((s) => s.state !== "pending" && s.state !== "updating").length;
  return `${done}/${v.steps.length}`;
};

function statusLines(v: RolloutView): string[] {
  const { steps, ...head } = v;
  return [
    ...fields(head),
    "",
    ...table([
      ["#", "NODE", "STATE", "FROM", "STARTED", "FINISHED", "ERROR"],
      ...steps.map((s, i) => [
        String(i + 1),
        s.node,
        s.state,
        s.fromVersion || "-",
        s.startedAt,
        s.finishedAt,
        s.error || "-",
      ]),
    ]),
  ];
}

function wholeFlag(ctx: CommandContext, name: string): number {
  const raw = flag(ctx.args, name);
  if (raw === undefined) return 0;
  if (!/^\d+$/.test(raw)) throw new UsageError(`--${name}: "${raw}" is not a whole number`);
  return Number(raw);
}

/** `pnctl agent rollout <action> ...` (ctx.rest[0] is the action). */
export async function runAgentRollout(ctx: CommandContext): Promise<number> {
  const svc = ctx.client(AgentService);
  const action = ctx.rest[0];
  switch (action) {
    case "start": {
      const template = required(ctx, 1, "TEMPLATE");
      const version = required(ctx, 2, "VERSION");
      const r = await svc.startAgentRollout({
        template,
        version,
        maxFailures: wholeFlag(ctx, "max-failures"),
        stepTimeoutSeconds: wholeFlag(ctx, "step-timeout"),
      });
      const v = rolloutView(r.rollout);
      ctx.print(v, () => [
        `rollout ${v.id}: agent ${v.version} over template ${v.template}, ${v.steps.length} node(s), one at a time`,
        `  follow it: pnctl agent rollout status ${v.id}`,
      ]);
      return 0;
    }
    case "status": {
      const v = rolloutView((await svc.getAgentRollout({ id: required(ctx, 1, "ID") })).rollout);
      ctx.print(v, () => statusLines(v));
      return 0;
    }
    case "list": {
      const rows = (await svc.listAgentRollouts({ template: flag(ctx.args, "template") ?? "" })).rollouts.map(
        rolloutView,
      );
      ctx.print(rows, () =>
        table([
          ["ID", "TEMPLATE", "VERSION", "STATE", "DONE", "FAILURES", "CREATED"],
          ...rows.map((r) => [
            r.id,
            r.template,
            r.version,
            r.state,
            counts(r),
            `${r.failures}/${r.maxFailures}`,
            r.createdAt,
          ]),
        ]),
      );
      return 0;
    }
    case "abort": {
      const v = rolloutView((await svc.abortAgentRollout({ id: required(ctx, 1, "ID") })).rollout);
      ctx.print(v, () => [
        `rollout ${v.id}: aborted after ${counts(v)} node(s); updated nodes keep ${v.version}`,
      ]);
      return 0;
    }
    default:
      throw new UsageError(
        `agent rollout: "${action ?? ""}" is not start, status, list or abort\n${agentRolloutUsage}`,
      );
  }
}
