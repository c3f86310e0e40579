/**
 * A minimal in-memory resource store (the seed of a Talos/COSI-like runtime): typed resources by
 * (type, id), each with a version that grows on every write, and watchers told of every change.
 * Controllers communicate only through it.
 */

export interface Resource<S> {
  type: string;
  id: string;
  /** Bumped on each write. */
  version: number;
  spec: S;
}

/** A typed handle for one resource type: `defineResource<DesiredState>("DesiredNodeState")`. */
export interface ResourceType<S> {
  readonly name: string;
  /** Phantom field carrying the spec type. */
  readonly _spec?: S;
}

/** Declares a resource type. */
export function defineResource<S>(name: string): ResourceType<S> {
  return { name };
}

export interface ResourceStore {
  get<S>(type: ResourceType<S>, id: string): Resource<S> | undefined;
  set<S>(type: ResourceType<S>, id: string, spec: S): Resource<S>;
  list(): Array<Resource<unknown>>;
  watch(listener: (r: Resource<unknown>) => void): () => void;
}

/** Creates an empty store. */
export function createResourceStore(): ResourceStore {
  const items = new Map<string, Resource<unknown>>();
  const listeners = new Set<(r: Resource<unknown>) => void>();
  const key = (type: string, id: string) => `${type}/${id}`;
  return {
    get<S>(type: ResourceType<S>, id: string) {
      return items.get(key(type.name, id)) as Resource<S> | undefined;
    },
    set<S>(type: ResourceType<S>, id: string, spec: S) {
      const prev = items.get(key(type.name, id));
      const r: Resource<S> = { type: type.name, id, version: (prev?.version ?? 0) + 1, spec };
      items.set(key(type.name, id), r);
      for (const l of listeners) l(r);
      return r;
    },
    list: () => [...items.values()],
    watch(l) {
      listeners.add(l);
      return () => listeners.delete(l);
    },
  };
}
