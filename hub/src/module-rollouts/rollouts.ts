/**
 * Rolling module upgrades over a template (decision 0042): the operator's side. A rollout records the
 * template's live nodes in batches (plan.ts: the canary alone first) and is then advanced by
 * advance.ts from heartbeats and the scheduler, by whichever hub process gets there first. At most one
 * module rollout runs per template (a partial unique index).
 */
import { EVENTS } from "@powernode/proto";
import { and, asc, desc, eq, inArray, ne } from "drizzle-orm";
import { MAX_STEP_TIMEOUT_SECONDS } from "../agent-builds/rollout-config.ts";
import type { Db } from "../db/client.ts";
import {
  instances,
  moduleRolloutNodes,
  moduleRollouts,
  modules,
  moduleVersions,
} from "../db/schema/index.ts";
import type { Deps } from "../deps.ts";
import { DomainError } from "../errors.ts";
import { templateByRef } from "../provision/module-assignments.ts";
import { intField, nameField, textField, uuidField } from "../rpc/fields.ts";
import { advanceModuleRollout } from "./advance.ts";
import { finishedEvent } from "./events.ts";
import { DEFAULT_BATCH_PERCENT, planBatches } from "./plan.ts";

export type ModuleRolloutRow = typeof moduleRollouts.$inferSelect;
export type ModuleRolloutNodeRow = typeof moduleRolloutNodes.$inferSelect;

/** A rollout with its nodes in batch order. */
export interface ModuleRolloutView {
  rollout: ModuleRolloutRow;
  nodes: ModuleRolloutNodeRow[];
}

export interface RolloutRequest {
  /** The template's id or name. */
  template: string;
  module: string;
  version: string;
  /** 0: DEFAULT_BATCH_PERCENT. */
  batchPercent: number;
}

/** What a rollout would do now: its batches of nodes, the canary first. */
export interface RolloutPlan {
  templateId: string;
  templateName: string;
  module: string;
  fromVersion: string;
  toVersion: string;
  batchPercent: number;
  batches: { id: string; name: string }[][];
}

/** The most rollouts one list returns. */
const LIST_LIMIT = 100;

/** Checks a request against the template, its nodes and the catalog; see StartModuleRolloutRequest. */
export async function planRollout(db: Db, req: RolloutRequest): Promise<RolloutPlan> {
  const tpl = await templateByRef(db, "template", req.template);
  const module = nameField("module", req.module, "module name");
  const toVersion = textField("version", req.version, { max: 128, required: true });
  const batchPercent =
    req.batchPercent === 0 ? DEFAULT_BATCH_PERCENT : intField("batch_percent", req.batchPercent, 1, 100);
  const ref = tpl.modules.find((m) => m.name === module);
  if (!ref)
    throw new DomainError(
      "invalid_argument",
      `module: template "${tpl.name}" names no module "${module}" (it names ${tpl.modules.map((m) => m.name).join(", ") || "none"})`,
    );
  if (ref.version === toVersion)
    throw new DomainError(
      "precondition",
      `version: template "${tpl.name}" already names ${module} ${toVersion}`,
    );
  const nodes = await db
    .select({ id: instances.id, name: instances.name, arch: instances.arch })
    .from(instances)
    .where(and(eq(instances.templateId, tpl.id), ne(instances.state, "deleted")))
    .orderBy(asc(instances.name), asc(instances.id));
  if (nodes.length === 0)
    throw new DomainError("precondition", `template: "${tpl.name}" has no nodes to upgrade`);
  const published = await db
    .select({ arch: moduleVersions.arch, ociDigest: moduleVersions.ociDigest })
    .from(moduleVersions)
    .innerJoin(modules, eq(modules.id, moduleVersions.moduleId))
    .where(and(eq(modules.name, module), eq(moduleVersions.version, toVersion)));
  // A node whose arch has no artifact would never update: refuse the rollout rather than fail a batch.
  for (const arch of new Set(nodes.map((n) => n.arch))) {
    const v = published.find((p) => p.arch === arch);
    const count = nodes.filter((n) => n.arch === arch).length;
    if (!v)
      throw new DomainError(
        "not_found",
        `version: module "${module}" has no version ${toVersion} for ${arch}, the arch of ${count} node(s) of template "${tpl.name}"`,
      );
    if (!v.ociDigest)
      throw new DomainError(
        "precondition",
        `version: ${module} ${toVersion} (${arch}) is not in the registry`,
      );
  }
  return {
    templateId: tpl.id,
    templateName: tpl.name,
    module,
    fromVersion: ref.version,
    toVersion,
    batchPercent,
    batches: planBatches(
      nodes.map((n) => ({ id: n.id, name: n.name })),
      batchPercent,
    ),
  };
}

/** Starts a rollout; the canary is assigned before this returns (or by the scheduler if that fails). */
export async function startRollout(
  deps: Deps,
  req: RolloutRequest & { batchTimeoutSeconds: number },
): Promise<ModuleRolloutView> {
  const plan = await planRollout(deps.db, req);
  const batchTimeoutSeconds =
    req.batchTimeoutSeconds === 0
      ? deps.config.agentRollouts.moduleBatchTimeoutSeconds
      : intField("batch_timeout_seconds", req.batchTimeoutSeconds, 1, MAX_STEP_TIMEOUT_SECONDS);
  const now = deps.now();
  const written = await deps.db.transaction(async (tx) => {
    const [rollout] = await tx
      .insert(moduleRollouts)
      .values({
        templateId: plan.templateId,
        templateName: plan.templateName,
        module: plan.module,
        fromVersion: plan.fromVersion,
        toVersion: plan.toVersion,
        batchPercent: plan.batchPercent,
        batchCount: plan.batches.length,
        batchTimeoutSeconds,
        batchStartedAt: now,
      })
      .onConflictDoNothing()
      .returning();
    if (!rollout) return undefined;
    await tx
      .insert(moduleRolloutNodes)
      .values(
        plan.batches.flatMap((b, batch) =>
          b.map((n) => ({ rolloutId: rollout.id, nodeId: n.id, nodeName: n.name, batch })),
        ),
      );
    return deps.events.insert(tx, [
      {
        ...EVENTS.moduleRolloutStarted,
        payload: {
          rolloutId: rollout.id,
          template: plan.templateName,
          module: plan.module,
          fromVersion: plan.fromVersion,
          toVersion: plan.toVersion,
          batches: plan.batches.map((b) => b.map((n) => n.name)),
          batchTimeoutSeconds,
        },
      },
    ]);
  });
  if (!written) {
    const [running] = await deps.db
      .select({ id: moduleRollouts.id, module: moduleRollouts.module, to: moduleRollouts.toVersion })
      .from(moduleRollouts)
      .where(and(eq(moduleRollouts.templateId, plan.templateId), eq(moduleRollouts.state, "running")));
    throw new DomainError(
      "already_exists",
      `template: "${plan.templateName}" has a running module rollout${running ? ` ${running.id} (${running.module} ${running.to}); abort it first: pnctl rollout abort ${running.id}` : ""}`,
    );
  }
  deps.events.publish(written);
  const rolloutId = String(written[0]?.payload.rolloutId);
  try {
    await advanceModuleRollout(deps, rolloutId);
  } catch (e) {
    deps.log.warn("module rollout: the canary was not assigned; the scheduler retries", {
      rolloutId,
      error: e,
    });
  }
  return getRollout(deps.db, rolloutId);
}

/** One rollout with its nodes, or not_found naming `id`. */
export async function getRollout(db: Db, id: string): Promise<ModuleRolloutView> {
  const rolloutId = uuidField("id", id);
  const [rollout] = await db.select().from(moduleRollouts).where(eq(moduleRollouts.id, rolloutId));
  if (!rollout) throw new DomainError("not_found", `id: no module rollout ${rolloutId}`);
  return { rollout, nodes: await nodesOf(db, [rolloutId]) };
}

/** The newest rollouts (at most 100), of one template when `template` (id or name) is given. */
export async function listRollouts(db: Db, template: string): Promise<ModuleRolloutView[]> {
  const tpl = template === "" ? undefined : await templateByRef(db, "template", template);
  const rollouts = await db
    .select()
    .from(moduleRollouts)
    .where(tpl ? eq(moduleRollouts.templateId, tpl.id) : undefined)
    .orderBy(desc(moduleRollouts.createdAt), desc(moduleRollouts.id))
    .limit(LIST_LIMIT);
  const nodes =
    rollouts.length === 0
      ? []
      : await nodesOf(
          db,
          rollouts.map((r) => r.id),
        );
  return rollouts.map((rollout) => ({ rollout, nodes: nodes.filter((n) => n.rolloutId === rollout.id) }));
}

async function nodesOf(db: Db, rolloutIds: string[]): Promise<ModuleRolloutNodeRow[]> {
  return db
    .select()
    .from(moduleRolloutNodes)
    .where(inArray(moduleRolloutNodes.rolloutId, rolloutIds))
    .orderBy(asc(moduleRolloutNodes.batch), asc(moduleRolloutNodes.nodeName), asc(moduleRolloutNodes.nodeId));
}

/**
 * Aborts a running rollout: no node is given the version after this commits; the batch in flight is
 * rolled back (advance.ts), earlier batches keep the version.
 */
export async function abortRollout(deps: Deps, id: string): Promise<ModuleRolloutView> {
  const rolloutId = uuidField("id", id);
  const now = deps.now();
  const written = await deps.db.transaction(async (tx) => {
    const [r] = await tx.select().from(moduleRollouts).where(eq(moduleRollouts.id, rolloutId)).for("update");
    if (!r) throw new DomainError("not_found", `id: no module rollout ${rolloutId}`);
    if (r.state !== "running")
      throw new DomainError("precondition", `id: module rollout ${rolloutId} is ${r.state}, not running`);
    const [aborted] = await tx
      .update(moduleRollouts)
      .set({ state: "aborted", error: "aborted by an operator", finishedAt: now, updatedAt: now })
      .where(eq(moduleRollouts.id, rolloutId))
      .returning();
    if (!aborted) throw new Error(`aborting module rollout ${rolloutId}: no row returned`);
    return deps.events.insert(tx, [finishedEvent(aborted)]);
  });
  deps.events.publish(written);
  try {
    await advanceModuleRollout(deps, rolloutId);
  } catch (e) {
    // The abort is committed; the scheduler finishes the rollback.
    deps.log.warn("module rollout: rolling back after the abort failed; the scheduler retries", {
      rolloutId,
      error: e,
    });
  }
  return getRollout(deps.db, rolloutId);
}
