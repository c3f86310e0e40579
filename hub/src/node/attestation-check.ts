/**
 * Attestation from heartbeats: the agent reports, per mounted module, the fs-verity digest of the
 * metadata image and the dm-verity root hash it reads back from the kernel. The hub compares them with
 * the node's desired-state assignments (which carry the catalog's digests). A mismatch is
 * `system.module_drift` (critical: a tampered byte must never pass silently) and the node becomes
 * degraded; when a later report matches again it returns to running. Reports are only examined when
 * they change (per node, in memory), so steady heartbeats cost a string comparison.
 */
import { EVENTS } from "@powernode/proto";
import { and, eq } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { instances, type ModuleObservationDocument } from "../db/schema/index.ts";
import { getDesiredState } from "../desired-state/index.ts";
import type { EventLog, NewEvent } from "../events/index.ts";

/** What the agent observed of one module (as the node's row keeps it). */
export type ModuleObservationInput = ModuleObservationDocument;

/** One mismatch between what was assigned and what the node runs. */
export interface ModuleDrift {
  module: string;
  version: string;
  field: "metadata_digest" | "verity_root_hash" | "version" | "state";
  expected: string;
  observed: string;
}

/** Pure comparison: drifts of mounted modules against the assignments. */
export function compareObservations(
  assigned: readonly { name: string; version: string; metadataDigest: string; verityRootHash: string }[],
  observed: readonly ModuleObservationInput[],
): ModuleDrift[] {
  const byName = new Map(assigned.map((a) => [a.name, a]));
  const drifts: ModuleDrift[] = [];
  for (const o of observed) {
    const a = byName.get(o.name);
    if (!a) continue;
    // A failed module of the assigned version is drift too: dm-verity saw a bad block, or it would not
    // mount. Pending ones are still on their way and prove nothing yet.
    if (o.state === "failed" && o.version === a.version) {
      drifts.push({
        module: o.name,
        version: o.version,
        field: "state",
        expected: "mounted",
        observed: `failed${o.message ? `: ${o.message.slice(0, 200)}` : ""}`,
      });
      continue;
    }
    if (o.state !== "mounted") continue;
    if (a.version !== o.version) {
      drifts.push({
        module: o.name,
        version: o.version,
        field: "version",
        expected: a.version,
        observed: o.version,
      });
      continue;
    }
    if (a.metadataDigest && a.metadataDigest !== o.metadataDigest.toLowerCase()) {
      drifts.push({
        module: o.name,
        version: o.version,
        field: "metadata_digest",
        expected: a.metadataDigest,
        observed: o.metadataDigest,
      });
    }
    if (a.verityRootHash && a.verityRootHash !== o.verityRootHash.toLowerCase()) {
      drifts.push({
        module: o.name,
        version: o.version,
        field: "verity_root_hash",
        expected: a.verityRootHash,
        observed: o.verityRootHash,
      });
    }
  }
  return drifts;
}

function toDocument(o: ModuleObservationInput): ModuleObservationDocument {
  return {
    name: o.name,
    version: o.version,
    metadataDigest: o.metadataDigest,
    verityRootHash: o.verityRootHash,
    state: o.state,
    ...(o.message ? { message: o.message.slice(0, 500) } : {}),
  };
}

/** A node's last reported observations (in memory: since the hub started). */
export interface LastObservations {
  bootId: string;
  at: Date;
  modules: readonly ModuleObservationInput[];
}

/** Checks reported observations when they changed; see the module comment. */
export interface AttestationChecker {
  check(
    instanceId: string,
    bootId: string,
    desiredVersion: number,
    observed: readonly ModuleObservationInput[],
  ): Promise<void>;
  /** What the node's last heartbeat with modules observed (undefined: none since the hub started). */
  lastObserved(instanceId: string): LastObservations | undefined;
}

/** Creates the checker. */
export function createAttestationChecker(
  db: Db,
  events: EventLog,
  now: () => Date = () => new Date(),
): AttestationChecker {
  const lastSeen = new Map<string, string>();
  const observations = new Map<string, LastObservations>();
  return {
    lastObserved: (instanceId) => observations.get(instanceId),
    async check(instanceId, bootId, desiredVersion, observed) {
      if (observations.size > 100_000) observations.clear();
      observations.set(instanceId, { bootId, at: now(), modules: observed });
      const fingerprint = `${bootId}|${desiredVersion}|${JSON.stringify(observed)}`;
      if (lastSeen.get(instanceId) === fingerprint) return;
      const desired = await getDesiredState(db, instanceId);
      const drifts = compareObservations(desired.modules?.assignments ?? [], observed);
      const opts = { nodeId: instanceId, correlationId: bootId };
      const toEmit: NewEvent[] = drifts.map((d) => ({
        ...EVENTS.moduleDrift,
        payload: { ...d, bootId, desiredVersion: Number(desired.version) },
        opts,
      }));
      if (drifts.length > 0) {
        const moved = await db
          .update(instances)
          .set({ state: "degraded", updatedAt: new Date() })
          .where(and(eq(instances.id, instanceId), eq(instances.state, "running")))
          .returning({ id: instances.id });
        if (moved.length > 0) {
          toEmit.push({
            ...EVENTS.instanceDegraded,
            payload: { reason: "module_drift", bootId },
            opts,
          });
        }
      } else {
        const moved = await db
          .update(instances)
          .set({ state: "running", updatedAt: new Date() })
          .where(and(eq(instances.id, instanceId), eq(instances.state, "degraded")))
          .returning({ id: instances.id });
        if (moved.length > 0) {
          toEmit.push({ ...EVENTS.instanceRecovered, payload: { bootId }, opts });
        }
      }
      // Kept on the node's row for readers in any hub process (the module rollouts' health gate).
      await db
        .update(instances)
        .set({ moduleObservations: observed.map(toDocument), moduleObservationsAt: now() })
        .where(eq(instances.id, instanceId));
      await events.emitMany(toEmit);
      // Remembered only once handled, so a failure above is retried with the next heartbeat.
      if (lastSeen.size > 100_000) lastSeen.clear();
      lastSeen.set(instanceId, fingerprint);
    },
  };
}
