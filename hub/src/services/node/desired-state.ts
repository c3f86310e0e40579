/**
 * Per-node desired-state documents: versioned rows in `desired_states`, the current number on the
 * instance, and an in-process bus that wakes WatchDesiredState streams when a new version is written.
 */
import { and, eq, sql } from "drizzle-orm";
import type { Db } from "../../db/client.ts";
import { type DesiredStateDocument, desiredStates, instances } from "../../db/schema/index.ts";
import { DomainError } from "../../errors.ts";

/** A document with its version (0 = nothing assigned yet). */
export interface VersionedDesiredState {
  version: number;
  document: DesiredStateDocument;
}

/** Wakes watchers of one instance's desired state. */
export interface DesiredStateBus {
  subscribe(instanceId: string, fn: (version: number) => void): () => void;
  publish(instanceId: string, version: number): void;
}

/** Creates the in-process bus. */
export function createDesiredStateBus(): DesiredStateBus {
  const subs = new Map<string, Set<(v: number) => void>>();
  return {
    subscribe(instanceId, fn) {
      let s = subs.get(instanceId);
      if (!s) {
        s = new Set();
        subs.set(instanceId, s);
      }
      s.add(fn);
      return () => {
        s.delete(fn);
        if (s.size === 0) subs.delete(instanceId);
      };
    },
    publish(instanceId, version) {
      for (const fn of subs.get(instanceId) ?? []) fn(version);
    },
  };
}

const EMPTY: DesiredStateDocument = { modules: [], extra: {} };

/** The current document of an instance (version 0 and an empty document when none was written). */
export async function getDesiredState(db: Db, instanceId: string): Promise<VersionedDesiredState> {
  const [inst] = await db
    .select({ version: instances.desiredVersion })
    .from(instances)
    .where(eq(instances.id, instanceId));
  if (!inst) throw new DomainError("not_found", `instance ${instanceId}: not found`);
  if (inst.version === 0) return { version: 0, document: EMPTY };
  const [row] = await db
    .select({ document: desiredStates.document })
    .from(desiredStates)
    .where(and(eq(desiredStates.instanceId, instanceId), eq(desiredStates.version, inst.version)));
  return { version: inst.version, document: row?.document ?? EMPTY };
}

/** Writes a new version of an instance's document; returns the version number. */
export async function setDesiredState(
  db: Db,
  instanceId: string,
  document: DesiredStateDocument,
  notify: { bus: DesiredStateBus; onChange?: (instanceId: string) => void },
): Promise<number> {
  const version = await db.transaction(async (tx) => {
    const [inst] = await tx
      .update(instances)
      .set({ desiredVersion: sql`${instances.desiredVersion} + 1`, updatedAt: new Date() })
      .where(eq(instances.id, instanceId))
      .returning({ version: instances.desiredVersion });
    if (!inst) throw new DomainError("not_found", `instance ${instanceId}: not found`);
    await tx.insert(desiredStates).values({ instanceId, version: inst.version, document });
    return inst.version;
  });
  notify.onChange?.(instanceId);
  notify.bus.publish(instanceId, version);
  return version;
}

/**
 * Writes a new desired-state version for an instance and wakes its WatchDesiredState streams (what
 * an operator API or a smoke calls).
 *
 * @example await assignDesiredState(hub.deps, nodeId, { modules: [...], extra: {} });
 */
export function assignDesiredState(
  deps: { db: Db; desired: DesiredStateBus },
  instanceId: string,
  document: DesiredStateDocument,
): Promise<number> {
  return setDesiredState(deps.db, instanceId, document, { bus: deps.desired });
}
