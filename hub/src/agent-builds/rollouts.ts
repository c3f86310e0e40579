/**
 * Rolling agent updates over a template (decision 0030): the operator's side. A rollout records the
 * template's live nodes as steps in a stable order (name, then id) and is then advanced by
 * rollout-advance.ts, one node at a time, from heartbeats and the scheduler, by whichever hub process
 * gets there first. At most one rollout runs per template (a partial unique index, so two hubs cannot
 * both start one).
 */
import { EVENTS } from "@powernode/proto";
import { and, asc, desc, eq, inArray, ne } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { agentBuilds, agentRolloutSteps, agentRollouts, instances } from "../db/schema/index.ts";
import type { Deps } from "../deps.ts";
import { DomainError } from "../errors.ts";
import { templateByRef } from "../provision/module-assignments.ts";
import { intField, uuidField } from "../rpc/fields.ts";
import { versionField } from "./builds.ts";
import { advanceRollout } from "./rollout-advance.ts";
import { MAX_STEP_TIMEOUT_SECONDS } from "./rollout-config.ts";
import { finishedEvent, stepEvent } from "./rollout-events.ts";

export type AgentRolloutRow = typeof agentRollouts.$inferSelect;
export type AgentRolloutStepRow = typeof agentRolloutSteps.$inferSelect;

/** A rollout with its steps in order. */
export interface AgentRolloutView {
  rollout: AgentRolloutRow;
  steps: AgentRolloutStepRow[];
}

export interface StartRolloutInput {
  /** The template's id or name. */
  template: string;
  version: string;
  maxFailures: number;
  /** 0: the hub's default (POWERNODE_AGENT_ROLLOUT_STEP_SECONDS). */
  stepTimeoutSeconds: number;
}

/** The most rollouts one list returns. */
const LIST_LIMIT = 100;

/** Starts a rollout of `version` over the template's live nodes; the first node is assigned at once. */
export async function startRollout(deps: Deps, input: StartRolloutInput): Promise<AgentRolloutView> {
  const { db } = deps;
  const tpl = await templateByRef(db, "template", input.template);
  const version = versionField("version", input.version);
  const maxFailures = intField("max_failures", input.maxFailures, 0, 10_000);
  const stepTimeoutSeconds =
    input.stepTimeoutSeconds === 0
      ? deps.config.agentRollouts.stepTimeoutSeconds
      : intField("step_timeout_seconds", input.stepTimeoutSeconds, 1, MAX_STEP_TIMEOUT_SECONDS);
  const nodes = await db
    .select({ id: instances.id, name: instances.name, arch: instances.arch })
    .from(instances)
    .where(and(eq(instances.templateId, tpl.id), ne(instances.state, "deleted")))
    .orderBy(asc(instances.name), asc(instances.id));
  if (nodes.length === 0)
    throw new DomainError("precondition", `template: "${tpl.name}" has no nodes to update`);
  const builds = await db.select().from(agentBuilds).where(eq(agentBuilds.version, version));
  if (builds.length === 0)
    throw new DomainError(
      "not_found",
      `version: no agent build ${version} (publish it: pnctl agent publish <binary> --version ${version})`,
    );
  // A node whose arch has no build would never update: refuse the rollout rather than skip it.
  const have = new Set(builds.map((b) => b.arch));
  const lacking = nodes.filter((n) => !have.has(n.arch));
  const [firstLacking] = lacking;
  if (firstLacking)
    throw new DomainError(
      "precondition",
      `version: no agent build ${version} for ${firstLacking.arch}, the arch of ${lacking.length} node(s) of template "${tpl.name}" (${lacking
        .slice(0, 5)
        .map((n) => n.name)
        .join(
          ", ",
        )}); publish it: pnctl agent publish <binary> --version ${version} --arch ${firstLacking.arch}`,
    );
  const written = await db.transaction(async (tx) => {
    const [rollout] = await tx
      .insert(agentRollouts)
      .values({ templateId: tpl.id, templateName: tpl.name, version, maxFailures, stepTimeoutSeconds })
      .onConflictDoNothing()
      .returning();
    if (!rollout) return undefined;
    await tx
      .insert(agentRolloutSteps)
      .values(
        nodes.map((n, position) => ({ rolloutId: rollout.id, position, nodeId: n.id, nodeName: n.name })),
      );
    return deps.events.insert(tx, [
      {
        ...EVENTS.agentRolloutStarted,
        payload: {
          rolloutId: rollout.id,
          template: tpl.name,
          version,
          nodes: nodes.length,
          maxFailures,
          stepTimeoutSeconds,
        },
      },
    ]);
  });
  if (!written) {
    const [running] = await db
      .select({ id: agentRollouts.id, version: agentRollouts.version })
      .from(agentRollouts)
      .where(and(eq(agentRollouts.templateId, tpl.id), eq(agentRollouts.state, "running")));
    throw new DomainError(
      "already_exists",
      `template: "${tpl.name}" has a running rollout${running ? ` ${running.id} (${running.version}); abort it first: pnctl agent rollout abort ${running.id}` : ""}`,
    );
  }
  deps.events.publish(written);
  const rolloutId = String(written[0]?.payload.rolloutId);
  try {
    await advanceRollout(deps, rolloutId);
  } catch (e) {
    // The rollout is recorded; the scheduler retries the first step.
    deps.log.warn("agent rollout: first step not taken; the scheduler retries", { rolloutId, error: e });
  }
  return getRollout(db, rolloutId);
}

/** One rollout with its steps, or not_found naming `id`. */
export async function getRollout(db: Db, id: string): Promise<AgentRolloutView> {
  const rolloutId = uuidField("id", id);
  const [rollout] = await db.select().from(agentRollouts).where(eq(agentRollouts.id, rolloutId));
  if (!rollout) throw new DomainError("not_found", `id: no agent rollout ${rolloutId}`);
  const steps = await db
    .select()
    .from(agentRolloutSteps)
    .where(eq(agentRolloutSteps.rolloutId, rolloutId))
    .orderBy(asc(agentRolloutSteps.position));
  return { rollout, steps };
}

/** The newest rollouts (at most 100), of one template when `template` (id or name) is given. */
export async function listRollouts(db: Db, template: string): Promise<AgentRolloutView[]> {
  const tpl = template === "" ? undefined : await templateByRef(db, "template", template);
  const rollouts = await db
    .select()
    .from(agentRollouts)
    .where(tpl ? eq(agentRollouts.templateId, tpl.id) : undefined)
    .orderBy(desc(agentRollouts.createdAt), desc(agentRollouts.id))
    .limit(LIST_LIMIT);
  if (rollouts.length === 0) return [];
  const steps = await db
    .select()
    .from(agentRolloutSteps)
    .where(
      inArray(
        agentRolloutSteps.rolloutId,
        rollouts.map((r) => r.id),
      ),
    )
    .orderBy(asc(agentRolloutSteps.position));
  return rollouts.map((rollout) => ({ rollout, steps: steps.filter((s) => s.rolloutId === rollout.id) }));
}

/**
 * Aborts a running rollout: no node is assigned after this commits (the step claim locks the same
 * row). Updated nodes keep the build; a node still updating keeps its assignment and its step is
 * marked skipped.
 */
export async function abortRollout(deps: Deps, id: string): Promise<AgentRolloutView> {
  const rolloutId = uuidField("id", id);
  const now = deps.now();
  const written = await deps.db.transaction(async (tx) => {
    const [r] = await tx.select().from(agentRollouts).where(eq(agentRollouts.id, rolloutId)).for("update");
    if (!r) throw new DomainError("not_found", `id: no agent rollout ${rolloutId}`);
    if (r.state !== "running")
      throw new DomainError("precondition", `id: agent rollout ${rolloutId} is ${r.state}, not running`);
    const error = "aborted by an operator";
    const [aborted] = await tx
      .update(agentRollouts)
      .set({ state: "aborted", error, finishedAt: now, updatedAt: now })
      .where(eq(agentRollouts.id, rolloutId))
      .returning();
    const cut = await tx
      .update(agentRolloutSteps)
      .set({
        state: "skipped",
        finishedAt: now,
        error: "the rollout was aborted while the node was updating (it keeps the assignment)",
      })
      .where(and(eq(agentRolloutSteps.rolloutId, rolloutId), eq(agentRolloutSteps.state, "updating")))
      .returning();
    if (!aborted) throw new Error(`aborting agent rollout ${rolloutId}: no row returned`);
    return deps.events.insert(tx, [...cut.map((s) => stepEvent(aborted, s)), finishedEvent(aborted)]);
  });
  deps.events.publish(written);
  return getRollout(deps.db, rolloutId);
}
