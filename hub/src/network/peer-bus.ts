/**
 * The in-process fan-out of peer-list changes: one publish per committed network change, delivered to
 * every open WatchMeshPeers stream of that network, which filters it by its receiver's view. O(1) work
 * per change per stream: nothing is recomputed for the rest of the network. One bus per hub (keyed by
 * its database handle); several hub processes add cross-process wake-ups on top (decision 0008).
 */
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { MeshPeerSchema } from "@powernode/proto";
import type { ClusterBus } from "../cluster/cluster-bus.ts";
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
  /**
   * Calls `fn` for every change of the network; `onClose` when the network is deleted; `onResync` when
   * another hub process changed it (the stream sends a fresh snapshot). Returns the unsubscribe.
   */
  subscribe(
    networkId: string,
    fn: (c: NetworkChange) => void,
    onClose?: () => void,
    onResync?: () => void,
  ): () => void;
  /** Another hub changed the network: every stream of it resends its snapshot. */
  resync(networkId: string): void;
  close(networkId: string): void;
  subscriberCount(networkId?: string): number;
}

export function createPeerBus(): PeerBus {
  const subs = new Map<
    string,
    Set<{ fn: (c: NetworkChange) => void; onClose?: () => void; onResync?: () => void }>
  >();
  return {
    publish(change) {
      for (const s of subs.get(change.network.id) ?? []) s.fn(change);
    },
    subscribe(networkId, fn, onClose, onResync) {
      const entry = { fn, onClose, onResync };
      const set = subs.get(networkId) ?? new Set();
      subs.set(networkId, set);
      set.add(entry);
      return () => {
        set.delete(entry);
        if (set.size === 0) subs.delete(networkId);
      };
    },
    resync(networkId) {
      for (const s of subs.get(networkId) ?? []) s.onResync?.();
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

/**
 * The peer bus of the hub that owns `deps.db`; with `deps.cluster`, other hub processes' changes of a
 * network make its streams here resend their snapshot.
 */
export function peerBusOf(deps: { db: object; cluster?: ClusterBus }): PeerBus {
  let bus = buses.get(deps.db);
  if (!bus) {
    const created = createPeerBus();
    deps.cluster?.subscribe((m) => {
      if (m.k === "network") created.resync(m.id);
    });
    buses.set(deps.db, created);
    bus = created;
  }
  return bus;
}
