/**
 * Stored desired-state documents: one row per (node, version) holding the protobuf JSON of the whole
 * `powernode.v1.DesiredState` (without its version), the current number on the instance row, and an
 * in-process bus that wakes WatchDesiredState streams when a new version is written.
 */
import { create, fromJson, type JsonValue, toJson } from "@bufbuild/protobuf";
import { type DesiredState, DesiredStateSchema } from "@powernode/proto";
import { and, eq } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { desiredStates, instances } from "../db/schema/index.ts";
import { DomainError } from "../errors.ts";

/** Wakes watchers of one node's desired state. */
export interface DesiredStateBus {
  subscribe(nodeId: string, fn: (version: number) => void): () => void;
  publish(nodeId: string, version: number): void;
}

/** Creates the in-process bus. */
export function createDesiredStateBus(): DesiredStateBus {
  const subs = new Map<string, Set<(v: number) => void>>();
  return {
    subscribe(nodeId, fn) {
      let s = subs.get(nodeId);
      if (!s) {
        s = new Set();
        subs.set(nodeId, s);
      }
      s.add(fn);
      return () => {
        s.delete(fn);
        if (s.size === 0) subs.delete(nodeId);
      };
    },
    publish(nodeId, version) {
      for (const fn of subs.get(nodeId) ?? []) fn(version);
    },
  };
}

/** The document as stored (protobuf JSON, without the version). */
export function toStoredDocument(state: DesiredState): JsonValue {
  return toJson(DesiredStateSchema, { ...state, version: 0n, heartbeatIntervalSeconds: 0 });
}

/** A stored document with its version (0 = nothing compiled yet: an empty document). */
export function fromStoredDocument(version: number, document: JsonValue | undefined): DesiredState {
  const state = document === undefined ? create(DesiredStateSchema) : fromJson(DesiredStateSchema, document);
  state.version = BigInt(version);
  return state;
}

/** The current document of a node. */
export async function getDesiredState(db: Db, nodeId: string): Promise<DesiredState> {
  const [inst] = await db
    .select({ version: instances.desiredVersion })
    .from(instances)
    .where(eq(instances.id, nodeId));
  if (!inst) throw new DomainError("not_found", `node ${nodeId}: not found`);
  if (inst.version === 0) return fromStoredDocument(0, undefined);
  const [row] = await db
    .select({ document: desiredStates.document })
    .from(desiredStates)
    .where(and(eq(desiredStates.instanceId, nodeId), eq(desiredStates.version, inst.version)));
  return fromStoredDocument(inst.version, row?.document);
}
