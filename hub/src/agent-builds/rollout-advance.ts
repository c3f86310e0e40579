/**
 * Advancing agent rollouts (decision 0030). A rollout's current step is its first pending or updating
 * one. An updating step ends when the node's heartbeat reports the version (updated), when the node
 * reports the build refused (failed) or when the step timeout passes (failed). A pending step is
 * skipped (already on the build, offline, deleted), failed (refused this build before) or claimed:
 * the step goes to updating in the same transaction that assigns the build (setNodeAgent).
 *
 * Every move is a transaction that locks the rollout's row and re-checks the step's state, so with
 * several hub processes on one PostgreSQL each move happens once, whoever tries; the claim also checks
 * that no other step is in flight, so there is never more than one node updating. Moves are tried from
 * heartbeats that report a change (nudgeRollouts) and from the scheduler (advanceRunningRollouts), which
 * also resumes rollouts after a restart: all state is in the database.
 */
import { and, asc, eq, inArray, lt, or } from "drizzle-orm";
import type { AgentRolloutStepStateName } from "../db/schema/index.ts";
import { agentRolloutSteps, agentRollouts, instances, nodeAgents } from "../db/schema/index.ts";
import type { Deps } from "../deps.ts";
import { isDomainError } from "../errors.ts";
import type { FleetEventRecord, NewEvent } from "../events/index.ts";
import { buildOf } from "./builds.ts";
import { setNodeAgent } from "./node-agents.ts";
import { finishedEvent, stepEvent } from "./rollout-events.ts";
import type { AgentRolloutRow, AgentRolloutStepRow } from "./rollouts.ts";

/** Moves one call makes at most (a tick continues where it stopped). */
const MAX_MOVES = 200;

/** A node is offline when its last heartbeat is older than this many intervals. */
const OFFLINE_HEARTBEATS = 3;

/** What a step moves to. */
interface Outcome {
  state: Extract<AgentRolloutStepStateName, "updated" | "failed" | "skipped">;
  error?: string;
  fromVersion?: string;
}

/** Another move got there first (or the rollout stopped): roll back and look again. */
class MovedElsewhere extends Error {}

/** Advances one rollout as far as it goes now; resolves when it waits on a node or has ended. */
export async function advanceRollout(deps: Deps, rolloutId: string): Promise<void> {
  for (let i = 0; i < MAX_MOVES; i++) if (!(await moveOnce(deps, rolloutId))) return;
}

/** The scheduler's job: every running rollout, oldest first. */
export async function advanceRunningRollouts(deps: Deps, signal: AbortSignal): Promise<void> {
  const running = await deps.db
    .select({ id: agentRollouts.id })
    .from(agentRollouts)
    .where(eq(agentRollouts.state, "running"))
    .orderBy(asc(agentRollouts.createdAt));
  const failed: string[] = [];
  for (const { id } of running) {
    if (signal.aborted) return;
    try {
      await advanceRollout(deps, id);
    } catch (e) {
      failed.push(`${id}: ${(e as Error).message}`);
    }
  }
  if (failed.length > 0) throw new Error(`advancing agent rollouts: ${failed.join("; ")}`);
}

/**
 * Called from a heartbeat whose agent report changed: advances the running rollouts waiting on this
 * node. Never throws (a heartbeat must not fail for it); the scheduler retries.
 */
export async function nudgeRollouts(deps: Deps, nodeId: string): Promise<void> {
  try {
    const waiting = await deps.db
      .select({ id: agentRolloutSteps.rolloutId })
      .from(agentRolloutSteps)
      .innerJoin(agentRollouts, eq(agentRollouts.id, agentRolloutSteps.rolloutId))
      .where(
        and(
          eq(agentRolloutSteps.nodeId, nodeId),
          eq(agentRolloutSteps.state, "updating"),
          eq(agentRollouts.state, "running"),
        ),
      );
    for (const { id } of waiting) await advanceRollout(deps, id);
  } catch (e) {
    deps.log.warn("agent rollout: advancing from a heartbeat failed; the scheduler retries", {
      nodeId,
      error: e,
    });
  }
}

/** One move; false when there is nothing to do now. */
async function moveOnce(deps: Deps, rolloutId: string): Promise<boolean> {
  const [r] = await deps.db.select().from(agentRollouts).where(eq(agentRollouts.id, rolloutId));
  if (r?.state !== "running") return false;
  const [step] = await deps.db
    .select()
    .from(agentRolloutSteps)
    .where(
      and(
        eq(agentRolloutSteps.rolloutId, rolloutId),
        inArray(agentRolloutSteps.state, ["pending", "updating"]),
      ),
    )
    .orderBy(asc(agentRolloutSteps.position))
    .limit(1);
  if (!step) {
    await finish(deps, rolloutId);
    return false;
  }
  if (step.state === "updating") {
    const outcome = await evaluate(deps, r, step);
    if (!outcome) return false;
    await endStep(deps, rolloutId, step, outcome);
    return true;
  }
  const decision = await decide(deps, r, step);
  if (decision.kind === "end") await endStep(deps, rolloutId, step, decision.outcome);
  else await claim(deps, rolloutId, step, decision.fromVersion);
  return true;
}

/** An updating step: has the node reported the version, refused it, or run out of time? */
async function evaluate(
  deps: Deps,
  r: AgentRolloutRow,
  step: AgentRolloutStepRow,
): Promise<Outcome | undefined> {
  const [node] = await deps.db.select().from(instances).where(eq(instances.id, step.nodeId));
  if (!node || node.state === "deleted")
    return { state: "skipped", error: "the node was deleted while updating" };
  if (node.agentVersion === r.version) return { state: "updated" };
  const startedAt = step.startedAt ?? deps.now();
  const [build] = await buildOf(deps.db, r.version, node.arch);
  const [agent] = await deps.db.select().from(nodeAgents).where(eq(nodeAgents.nodeId, step.nodeId));
  if (
    build &&
    agent?.lastFailedSha256 === build.sha256 &&
    agent.lastFailedAt &&
    agent.lastFailedAt.getTime() >= startedAt.getTime()
  )
    return { state: "failed", error: `the node refused ${r.version}: ${agent.lastFailedReason ?? ""}` };
  if (deps.now().getTime() - startedAt.getTime() >= r.stepTimeoutSeconds * 1000)
    return {
      state: "failed",
      error: `no heartbeat reported ${r.version} within ${r.stepTimeoutSeconds} s (the node runs ${node.agentVersion ?? "nothing yet"})`,
    };
  return undefined;
}

type Decision = { kind: "end"; outcome: Outcome } | { kind: "claim"; fromVersion: string };

/** A pending step's turn: skip it, fail it, or claim it. */
async function decide(deps: Deps, r: AgentRolloutRow, step: AgentRolloutStepRow): Promise<Decision> {
  const end = (o: Outcome): Decision => ({ kind: "end", outcome: o });
  const [node] = await deps.db.select().from(instances).where(eq(instances.id, step.nodeId));
  if (!node || node.state === "deleted") return end({ state: "skipped", error: "the node was deleted" });
  const fromVersion = node.agentVersion ?? "";
  if (fromVersion === r.version)
    return end({ state: "skipped", error: `already runs ${r.version}`, fromVersion });
  const offlineMs = Math.max(OFFLINE_HEARTBEATS * deps.config.heartbeatSeconds * 1000, 30_000);
  const last = node.lastHeartbeatAt;
  if (
    (node.state !== "running" && node.state !== "degraded") ||
    !last ||
    deps.now().getTime() - last.getTime() > offlineMs
  )
    return end({
      state: "skipped",
      error: `offline: ${node.state}, last heartbeat ${last ? last.toISOString() : "never"} (run the rollout again once it is back)`,
      fromVersion,
    });
  const [build] = await buildOf(deps.db, r.version, node.arch);
  if (!build)
    return end({ state: "failed", error: `no agent build ${r.version} for ${node.arch}`, fromVersion });
  const [agent] = await deps.db.select().from(nodeAgents).where(eq(nodeAgents.nodeId, step.nodeId));
  if (agent?.lastFailedSha256 === build.sha256)
    return end({
      state: "failed",
      error: `the node refused ${r.version} before (${agent.lastFailedReason ?? ""}); it does not retry a refused build until it reboots`,
      fromVersion,
    });
  return { kind: "claim", fromVersion };
}

/** Ends `step` (from the state it was read in); fails the rollout when failures exceed max_failures. */
async function endStep(deps: Deps, rolloutId: string, step: AgentRolloutStepRow, o: Outcome): Promise<void> {
  const now = deps.now();
  const written = await deps.db.transaction(async (tx): Promise<FleetEventRecord[]> => {
    const [r] = await tx.select().from(agentRollouts).where(eq(agentRollouts.id, rolloutId)).for("update");
    if (r?.state !== "running") return [];
    const [ended] = await tx
      .update(agentRolloutSteps)
      .set({
        state: o.state,
        error: o.error ?? null,
        finishedAt: now,
        startedAt: step.startedAt ?? now,
        ...(o.fromVersion !== undefined ? { fromVersion: o.fromVersion } : {}),
      })
      .where(
        and(
          eq(agentRolloutSteps.rolloutId, rolloutId),
          eq(agentRolloutSteps.position, step.position),
          eq(agentRolloutSteps.state, step.state),
        ),
      )
      .returning();
    if (!ended) return [];
    const events: NewEvent[] = [stepEvent(r, ended)];
    if (o.state === "failed") {
      const failures = r.failures + 1;
      const over = failures > r.maxFailures;
      const [updated] = await tx
        .update(agentRollouts)
        .set({
          failures,
          updatedAt: now,
          ...(over
            ? {
                state: "failed" as const,
                finishedAt: now,
                error: `${failures} step(s) failed (max_failures ${r.maxFailures}); last: node ${ended.nodeName}: ${o.error ?? ""}`,
              }
            : {}),
        })
        .where(eq(agentRollouts.id, rolloutId))
        .returning();
      if (over && updated) events.push(finishedEvent(updated));
    }
    return deps.events.insert(tx, events);
  });
  deps.events.publish(written);
}

/** Claims a pending step and assigns the build, in one transaction (or neither). */
async function claim(deps: Deps, rolloutId: string, step: AgentRolloutStepRow, fromVersion: string) {
  const [r] = await deps.db.select().from(agentRollouts).where(eq(agentRollouts.id, rolloutId));
  if (!r) return;
  let written: FleetEventRecord[] = [];
  try {
    await setNodeAgent(deps, step.nodeId, r.version, async (tx) => {
      const [locked] = await tx
        .select()
        .from(agentRollouts)
        .where(eq(agentRollouts.id, rolloutId))
        .for("update");
      if (locked?.state !== "running") throw new MovedElsewhere();
      const [inFlight] = await tx
        .select({ position: agentRolloutSteps.position })
        .from(agentRolloutSteps)
        .where(
          and(
            eq(agentRolloutSteps.rolloutId, rolloutId),
            or(
              eq(agentRolloutSteps.state, "updating"),
              and(eq(agentRolloutSteps.state, "pending"), lt(agentRolloutSteps.position, step.position)),
            ),
          ),
        )
        .limit(1);
      if (inFlight) throw new MovedElsewhere();
      const [claimed] = await tx
        .update(agentRolloutSteps)
        .set({ state: "updating", startedAt: deps.now(), fromVersion })
        .where(
          and(
            eq(agentRolloutSteps.rolloutId, rolloutId),
            eq(agentRolloutSteps.position, step.position),
            eq(agentRolloutSteps.state, "pending"),
          ),
        )
        .returning();
      if (!claimed) throw new MovedElsewhere();
      written = await deps.events.insert(tx, [stepEvent(locked, claimed)]);
    });
  } catch (e) {
    if (e instanceof MovedElsewhere) return;
    // The node went away or its desired state does not compile: this step fails, the rollout goes on
    // (or stops) by max_failures like any other failure.
    if (isDomainError(e)) {
      const gone = e.kind === "not_found" && e.message.startsWith("node");
      await endStep(
        deps,
        rolloutId,
        step,
        gone
          ? { state: "skipped", error: "the node was deleted", fromVersion }
          : { state: "failed", error: `assigning the build: ${e.message}`, fromVersion },
      );
      return;
    }
    throw e;
  }
  deps.events.publish(written);
}

/** No step left: the rollout succeeded (re-checked under the row lock). */
async function finish(deps: Deps, rolloutId: string): Promise<void> {
  const now = deps.now();
  const written = await deps.db.transaction(async (tx): Promise<FleetEventRecord[]> => {
    const [r] = await tx.select().from(agentRollouts).where(eq(agentRollouts.id, rolloutId)).for("update");
    if (r?.state !== "running") return [];
    const [open] = await tx
      .select({ position: agentRolloutSteps.position })
      .from(agentRolloutSteps)
      .where(
        and(
          eq(agentRolloutSteps.rolloutId, rolloutId),
          inArray(agentRolloutSteps.state, ["pending", "updating"]),
        ),
      )
      .limit(1);
    if (open) return [];
    const [done] = await tx
      .update(agentRollouts)
      .set({ state: "succeeded", finishedAt: now, updatedAt: now })
      .where(eq(agentRollouts.id, rolloutId))
      .returning();
    return done ? deps.events.insert(tx, [finishedEvent(done)]) : [];
  });
  deps.events.publish(written);
}
