/**
 * The in-process fan-out of peer-list changes: one publish per committed network change, delivered to
 * every open WatchMeshPeers stream of that network, which filters it by its receiver's view. O(1) work
 * per change per stream: nothing is recomputed for the rest of the network. One bus per hub (keyed by
 * its database handle); several hub processes add cross-process wake-ups on top (decision 0008).
 */
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { MeshPeerSchema } from "@powernode/proto";
import type { networks } from "../db/schema/index.ts";

/** One change of one member as its peers see it. */
export type PeerChange =
  | { kind: "upsert"; nodeId: string; hub: boolean; peer: MessageInitShape<typeof MeshPeerSchema> }
  | { kind: "remove"; nodeId: string; hub: boolean };

/** A committed change: the network row after it (with its new version) and what changed. */
export interface NetworkChange {
  network: typeof networks.$inferSelect;
  changes: readonly PeerChange[];
}

export interface PeerBus {
  publish(change: NetworkChange): void;
  /** Calls `fn` for every change of the network; `onClose` when the network is deleted. Returns the unsubscribe. */
  subscribe(networkId: string, fn: (c: NetworkChange) => void, onClose?: () => void): () => void;
  close(networkId: string): void;
  subscriberCount(networkId?: string): number;
}

export function createPeerBus(): PeerBus {
  const subs = new Map<string, Set<{ fn: (c: NetworkChange) => void; onClose?: () => void }>>();
  return {
    publish(change) {
      for (const s of subs.get(change.network.id) ?? []) s.fn(change);
    },
    subscribe(networkId, fn, onClose) {
      const entry = { fn, onClose };
      const set = subs.get(networkId) ?? new Set();
      subs.set(networkId, set);
      set.add(entry);
      return () => {
        set.delete(entry);
        if (set.size === 0) subs.delete(networkId);
      };
    },
    close(networkId) {
      for (const s of subs.get(networkId) ?? []) s.onClose?.();
      subs.delete(networkId);
    },
    subscriberCount(networkId) {
      if (networkId) return subs.get(networkId)?.size ?? 0;
      let n = 0;
      for (const s of subs.values()) n += s.size;
      return n;
    },
  };
}

const buses = new WeakMap<object, PeerBus>();

/** The peer bus of the hub that owns `deps.db`. */
export function peerBusOf(deps: { db: object }): PeerBus {
  const bus = buses.get(deps.db) ?? createPeerBus();
  buses.set(deps.db, bus);
  return bus;
}
