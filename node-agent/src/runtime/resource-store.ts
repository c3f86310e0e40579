/**
 * The agent's in-memory resource store (the COSI shape): typed resources by (type, id), each with a
 * version that grows on every change, and watchers told of every change. Controllers communicate only
 * through it; the engine enforces who may write what.
 */
import { isDeepStrictEqual } from "node:util";

export interface Resource<S> {
  type: string;
  id: string;
  /** Bumped on each change. */
  version: number;
  spec: S;
}

/** A typed handle for one resource type: `defineResource<DesiredState>("DesiredNodeState")`. */
export interface ResourceType<S> {
  readonly name: string;
  /** Phantom field carrying the spec type. */
  readonly _spec?: S;
}

/** Any resource type (lists of inputs and outputs). */
export type AnyResourceType = ResourceType<unknown>;

/** Declares a resource type. */
export function defineResource<S>(name: string): ResourceType<S> {
  return { name };
}

/** A change: the resource as written, or `removed` with its last value. */
export interface ResourceChange {
  resource: Resource<unknown>;
  removed: boolean;
}

export interface ResourceStore {
  get<S>(type: ResourceType<S>, id: string): Resource<S> | undefined;
  /** Every resource of a type, by id. */
  list<S>(type: ResourceType<S>): Resource<S>[];
  /** Writes a spec; returns false (and tells nobody) when it deep-equals the current one. */
  set<S>(type: ResourceType<S>, id: string, spec: S): boolean;
  remove(type: AnyResourceType, id: string): boolean;
  all(): Resource<unknown>[];
  watch(listener: (c: ResourceChange) => void): () => void;
}

/** Creates an empty store. */
export function createResourceStore(): ResourceStore {
  const items = new Map<string, Resource<unknown>>();
  const listeners = new Set<(c: ResourceChange) => void>();
  const key = (type: string, id: string) => `${type}/${id}`;
  const tell = (c: ResourceChange) => {
    for (const l of listeners) l(c);
  };
  return {
    get<S>(type: ResourceType<S>, id: string) {
      return items.get(key(type.name, id)) as Resource<S> | undefined;
    },
    list<S>(type: ResourceType<S>) {
      return [...items.values()]
        .filter((r) => r.type === type.name)
        .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)) as Resource<S>[];
    },
    set<S>(type: ResourceType<S>, id: string, spec: S) {
      const prev = items.get(key(type.name, id));
      if (prev && isDeepStrictEqual(prev.spec, spec)) return false;
      const r: Resource<S> = { type: type.name, id, version: (prev?.version ?? 0) + 1, spec };
      items.set(key(type.name, id), r);
      tell({ resource: r, removed: false });
      return true;
    },
    remove(type, id) {
      const prev = items.get(key(type.name, id));
      if (!prev) return false;
      items.delete(key(type.name, id));
      tell({ resource: prev, removed: true });
      return true;
    },
    all: () => [...items.values()],
    watch(l) {
      listeners.add(l);
      return () => listeners.delete(l);
    },
  };
}
