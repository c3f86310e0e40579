/**
 * Advancing module rollouts (decision 0042). A running rollout works on one batch at a time: each
 * pending node of it is given the version (its own module reference, in the transaction that compiles
 * its desired state), each updating node is settled by the gate (plan.ts), and when no node of the
 * batch is in flight the batch passes (the next one starts; after the last, the template names the
 * version and the nodes' own references are dropped again) or fails: the rollout stops and the batch
 * is rolled back to the references its nodes had before. An aborted rollout's batch is rolled back
 * the same way.
 *
 * Every move is a transaction that locks the rollout's row and re-checks the node's state, so with
 * several hub processes each move happens once; a move that also writes a node's desired state locks
 * the node's row first (desiredState.change), then the rollout's, always in that order. Moves are
 * tried from heartbeats whose module report changed and from the scheduler, which also resumes after
 * a restart: all state is in the database.
 */
import { and, asc, eq, inArray, ne } from "drizzle-orm";
import type { ModuleRefDocument } from "../db/schema/index.ts";
import { instances, moduleRolloutNodes, moduleRollouts, templates } from "../db/schema/index.ts";
import type { Deps } from "../deps.ts";
import type { Tx } from "../desired-state/index.ts";
import { isDomainError } from "../errors.ts";
import { batchEvent, finishedEvent, nodeEvent } from "./events.ts";
import { gate } from "./plan.ts";
import type { ModuleRolloutNodeRow, ModuleRolloutRow } from "./rollouts.ts";

/** Moves one call makes at most (a tick continues where it stopped). */
const MAX_MOVES = 500;

/** Another move got there first (or the rollout stopped): look again. */
class MovedElsewhere extends Error {}

/** Advances one rollout as far as it goes now. */
export async function advanceModuleRollout(deps: Deps, rolloutId: string): Promise<void> {
  for (let i = 0; i < MAX_MOVES; i++) if (!(await moveOnce(deps, rolloutId))) return;
}

/** The scheduler's job: every running rollout, and stopped ones whose last batch is not rolled back yet. */
export async function advanceModuleRollouts(deps: Deps, signal: AbortSignal): Promise<void> {
  const running = await deps.db
    .select({ id: moduleRollouts.id, createdAt: moduleRollouts.createdAt })
    .from(moduleRollouts)
    .where(eq(moduleRollouts.state, "running"));
  const unwound = await deps.db
    .selectDistinct({ id: moduleRollouts.id, createdAt: moduleRollouts.createdAt })
    .from(moduleRollouts)
    .innerJoin(moduleRolloutNodes, eq(moduleRolloutNodes.rolloutId, moduleRollouts.id))
    .where(
      and(
        inArray(moduleRollouts.state, ["failed", "aborted"]),
        eq(moduleRolloutNodes.batch, moduleRollouts.currentBatch),
        inArray(moduleRolloutNodes.state, ["updating", "updated", "failed"]),
      ),
    );
  const open = [...running, ...unwound].sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime());
  const failed: string[] = [];
  for (const { id } of open) {
    if (signal.aborted) return;
    try {
      await advanceModuleRollout(deps, id);
    } catch (e) {
      failed.push(`${id}: ${(e as Error).message}`);
    }
  }
  if (failed.length > 0) throw new Error(`advancing module rollouts: ${failed.join("; ")}`);
}

/** From a heartbeat whose module report changed: the running rollouts waiting on this node. Never throws. */
export async function nudgeModuleRollouts(deps: Deps, nodeId: string): Promise<void> {
  try {
    const waiting = await deps.db
      .select({ id: moduleRolloutNodes.rolloutId })
      .from(moduleRolloutNodes)
      .innerJoin(moduleRollouts, eq(moduleRollouts.id, moduleRolloutNodes.rolloutId))
      .where(
        and(
          eq(moduleRolloutNodes.nodeId, nodeId),
          eq(moduleRolloutNodes.state, "updating"),
          eq(moduleRollouts.state, "running"),
        ),
      );
    for (const { id } of waiting) await advanceModuleRollout(deps, id);
  } catch (e) {
    deps.log.warn("module rollout: advancing from a heartbeat failed; the scheduler retries", {
      nodeId,
      error: e,
    });
  }
}

/** One move; false when there is nothing to do now. */
async function moveOnce(deps: Deps, rolloutId: string): Promise<boolean> {
  const [r] = await deps.db.select().from(moduleRollouts).where(eq(moduleRollouts.id, rolloutId));
  if (!r || r.state === "succeeded") return false;
  const batch = await deps.db
    .select()
    .from(moduleRolloutNodes)
    .where(and(eq(moduleRolloutNodes.rolloutId, rolloutId), eq(moduleRolloutNodes.batch, r.currentBatch)))
    .orderBy(asc(moduleRolloutNodes.nodeName), asc(moduleRolloutNodes.nodeId));
  try {
    if (r.state !== "running") {
      const back = batch.find((n) => n.state === "updating" || n.state === "updated" || n.state === "failed");
      if (!back) return false;
      await rollBack(deps, back);
      return true;
    }
    const pending = batch.find((n) => n.state === "pending");
    if (pending) {
      await claim(deps, r, pending);
      return true;
    }
    const updating = batch.filter((n) => n.state === "updating");
    if (updating.length > 0) return await settle(deps, r, updating);
    const failed = batch.filter((n) => n.state === "failed");
    if (failed.length > 0) await fail(deps, r, failed);
    else await pass(deps, r);
    return true;
  } catch (e) {
    if (e instanceof MovedElsewhere) return true;
    throw e;
  }
}

/** Locks the rollout's row in `tx`; MovedElsewhere unless it is still at `r`'s batch (and running). */
async function lockRollout(tx: Tx, r: ModuleRolloutRow, running = true): Promise<ModuleRolloutRow> {
  const [locked] = await tx.select().from(moduleRollouts).where(eq(moduleRollouts.id, r.id)).for("update");
  if (!locked || locked.currentBatch !== r.currentBatch || (running && locked.state !== "running"))
    throw new MovedElsewhere();
  return locked;
}

/** Re-reads a node's row in `tx`; MovedElsewhere unless it is in one of `states`. */
async function nodeIn(tx: Tx, n: ModuleRolloutNodeRow, states: readonly string[]): Promise<void> {
  const [row] = await tx
    .select({ state: moduleRolloutNodes.state })
    .from(moduleRolloutNodes)
    .where(and(eq(moduleRolloutNodes.rolloutId, n.rolloutId), eq(moduleRolloutNodes.nodeId, n.nodeId)));
  if (!row || !states.includes(row.state)) throw new MovedElsewhere();
}

async function setNode(
  tx: Tx,
  n: ModuleRolloutNodeRow,
  set: Partial<
    Pick<ModuleRolloutNodeRow, "state" | "error" | "startedAt" | "finishedAt" | "previousModules">
  >,
): Promise<ModuleRolloutNodeRow> {
  const [row] = await tx
    .update(moduleRolloutNodes)
    .set(set)
    .where(and(eq(moduleRolloutNodes.rolloutId, n.rolloutId), eq(moduleRolloutNodes.nodeId, n.nodeId)))
    .returning();
  if (!row) throw new MovedElsewhere();
  return row;
}

/** The node's own references with `module` at `version` (env: its own reference's, else the template's). */
export function withVersion(
  own: readonly ModuleRefDocument[],
  template: readonly ModuleRefDocument[],
  module: string,
  version: string,
): ModuleRefDocument[] {
  const env = own.find((m) => m.name === module)?.env ?? template.find((m) => m.name === module)?.env;
  return [...own.filter((m) => m.name !== module), { name: module, version, ...(env ? { env } : {}) }];
}

/** Gives a pending node the version; a node that cannot take it fails (deleted: skipped). */
async function claim(deps: Deps, r: ModuleRolloutRow, n: ModuleRolloutNodeRow): Promise<void> {
  const now = deps.now();
  let written: Awaited<ReturnType<Deps["events"]["insert"]>> = [];
  try {
    await deps.desiredState.change(n.nodeId, async (tx, node) => {
      await lockRollout(tx, r);
      await nodeIn(tx, n, ["pending"]);
      const [tpl] = await tx
        .select({ modules: templates.modules })
        .from(templates)
        .where(eq(templates.id, r.templateId));
      const modules = withVersion(node.modules, tpl?.modules ?? [], r.module, r.toVersion);
      await tx.update(instances).set({ modules, updatedAt: now }).where(eq(instances.id, n.nodeId));
      const row = await setNode(tx, n, { state: "updating", previousModules: node.modules, startedAt: now });
      written = await deps.events.insert(tx, [nodeEvent(r, row)]);
    });
  } catch (e) {
    if (e instanceof MovedElsewhere || !isDomainError(e)) throw e;
    // The version does not resolve for this node (or the node is gone): its part ends here.
    const skipped = e.kind === "not_found" && e.message.includes("no such node");
    written = await deps.db.transaction(async (tx) => {
      await lockRollout(tx, r);
      await nodeIn(tx, n, ["pending"]);
      const row = await setNode(tx, n, {
        state: skipped ? "skipped" : "failed",
        error: skipped ? "the node was deleted" : e.message,
        finishedAt: now,
      });
      return deps.events.insert(tx, [nodeEvent(r, row)]);
    });
  }
  deps.events.publish(written);
}

/** Settles the first updating node the gate has an answer for; false when all still wait. */
async function settle(deps: Deps, r: ModuleRolloutRow, updating: ModuleRolloutNodeRow[]): Promise<boolean> {
  const now = deps.now();
  const rows = await deps.db
    .select({
      id: instances.id,
      state: instances.state,
      observations: instances.moduleObservations,
      observedAt: instances.moduleObservationsAt,
    })
    .from(instances)
    .where(
      inArray(
        instances.id,
        updating.map((n) => n.nodeId),
      ),
    );
  for (const n of updating) {
    const inst = rows.find((i) => i.id === n.nodeId);
    const outcome = gate({
      module: r.module,
      version: r.toVersion,
      instanceState: inst?.state ?? "deleted",
      observations: inst?.observations ?? [],
      observedAt: inst?.observedAt ?? null,
      startedAt: n.startedAt ?? now,
      timeoutSeconds: r.batchTimeoutSeconds,
      now,
    });
    if (outcome.state === "waiting") continue;
    const written = await deps.db.transaction(async (tx) => {
      await lockRollout(tx, r);
      await nodeIn(tx, n, ["updating"]);
      const row = await setNode(tx, n, {
        state: outcome.state,
        error: outcome.state === "failed" ? outcome.error : null,
        finishedAt: now,
      });
      return deps.events.insert(tx, [nodeEvent(r, row)]);
    });
    deps.events.publish(written);
    return true;
  }
  return false;
}

/** A batch with a failed node: the rollout fails (its batch is rolled back by the next moves). */
async function fail(deps: Deps, r: ModuleRolloutRow, failed: ModuleRolloutNodeRow[]): Promise<void> {
  const now = deps.now();
  const which = r.currentBatch === 0 ? "the canary" : `batch ${r.currentBatch}`;
  const error =
    `${which} failed: ${failed.map((n) => `${n.nodeName}: ${n.error ?? "failed"}`).join("; ")}`.slice(
      0,
      2000,
    );
  const written = await deps.db.transaction(async (tx) => {
    await lockRollout(tx, r);
    const [row] = await tx
      .update(moduleRollouts)
      .set({ state: "failed", error, finishedAt: now, updatedAt: now })
      .where(eq(moduleRollouts.id, r.id))
      .returning();
    if (!row) throw new MovedElsewhere();
    return deps.events.insert(tx, [batchEvent(row, "failed"), finishedEvent(row)]);
  });
  deps.events.publish(written);
}

/**
 * The node's references with the rollout's module as it was before the claim: every other reference
 * stays as it is now (an operator may have assigned more meanwhile).
 */
export function restoredModules(
  current: readonly ModuleRefDocument[],
  previous: readonly ModuleRefDocument[],
  module: string,
): ModuleRefDocument[] {
  return [...current.filter((m) => m.name !== module), ...previous.filter((m) => m.name === module)];
}

/** Restores a node of a stopped rollout's last batch to the module reference it had before. */
async function rollBack(deps: Deps, n: ModuleRolloutNodeRow): Promise<void> {
  const now = deps.now();
  const [r] = await deps.db.select().from(moduleRollouts).where(eq(moduleRollouts.id, n.rolloutId));
  if (!r) return;
  let written: Awaited<ReturnType<Deps["events"]["insert"]>> = [];
  const mark = async (tx: Tx) => {
    await lockRollout(tx, r, false);
    await nodeIn(tx, n, ["updating", "updated", "failed"]);
    const row = await setNode(tx, n, { state: "rolled_back", finishedAt: now, error: n.error });
    return deps.events.insert(tx, [nodeEvent(r, row)]);
  };
  const previous = n.previousModules;
  try {
    // Never given the version (its claim failed): nothing of the node's to restore.
    if (previous === null) written = await deps.db.transaction(mark);
    else
      await deps.desiredState.change(n.nodeId, async (tx, node) => {
        await tx
          .update(instances)
          .set({ modules: restoredModules(node.modules, previous, r.module), updatedAt: now })
          .where(eq(instances.id, n.nodeId));
        written = await mark(tx);
      });
  } catch (e) {
    if (!isDomainError(e) || e.kind !== "not_found") throw e;
    written = await deps.db.transaction(mark); // the node is gone: nothing to restore
  }
  deps.events.publish(written);
}

/** Every node of the batch updated (or skipped): the next batch, or the end. */
async function pass(deps: Deps, r: ModuleRolloutRow): Promise<void> {
  const now = deps.now();
  const last = r.currentBatch + 1 >= r.batchCount;
  const written = await deps.db.transaction(async (tx) => {
    await lockRollout(tx, r);
    if (last) {
      const [tpl] = await tx.select().from(templates).where(eq(templates.id, r.templateId)).for("update");
      if (tpl) {
        const modules = tpl.modules.map((m) => (m.name === r.module ? { ...m, version: r.toVersion } : m));
        await tx.update(templates).set({ modules, updatedAt: now }).where(eq(templates.id, tpl.id));
      }
    }
    const [row] = await tx
      .update(moduleRollouts)
      .set(
        last
          ? { state: "succeeded", finishedAt: now, updatedAt: now }
          : { currentBatch: r.currentBatch + 1, batchStartedAt: now, updatedAt: now },
      )
      .where(eq(moduleRollouts.id, r.id))
      .returning();
    if (!row) throw new MovedElsewhere();
    const done = { ...row, currentBatch: r.currentBatch };
    return deps.events.insert(
      tx,
      last ? [batchEvent(done, "passed"), finishedEvent(done)] : [batchEvent(done, "passed")],
    );
  });
  deps.events.publish(written);
  if (last) await dropOverrides(deps, r);
}

/**
 * After the last batch the template names the version: every node of the template is recompiled, and
 * the own reference the rollout gave a node is dropped (one it had before the rollout stays, at the
 * new version). A failure here leaves a node with an own reference to the same version: harmless.
 */
async function dropOverrides(deps: Deps, r: ModuleRolloutRow): Promise<void> {
  const touched = await deps.db
    .select()
    .from(moduleRolloutNodes)
    .where(and(eq(moduleRolloutNodes.rolloutId, r.id), eq(moduleRolloutNodes.state, "updated")));
  const nodes = await deps.db
    .select({ id: instances.id })
    .from(instances)
    .where(and(eq(instances.templateId, r.templateId), ne(instances.state, "deleted")));
  for (const { id } of nodes) {
    const had = touched.find((n) => n.nodeId === id)?.previousModules;
    try {
      await deps.desiredState.change(id, async (tx, node) => {
        if (!had || had.some((m) => m.name === r.module)) return;
        const modules = node.modules.filter((m) => !(m.name === r.module && m.version === r.toVersion));
        await tx.update(instances).set({ modules, updatedAt: deps.now() }).where(eq(instances.id, id));
      });
    } catch (e) {
      deps.log.warn("module rollout: recompiling a node after the rollout failed", {
        rolloutId: r.id,
        nodeId: id,
        error: e,
      });
    }
  }
}
