/**
 * Wake-ups between hub processes that share one PostgreSQL: `NOTIFY` on one channel, sent inside the
 * transaction that made the change (PostgreSQL delivers it at commit, in commit order, and never for a
 * rolled-back transaction), `LISTEN`ed on by every hub. A message carries only what the receivers need
 * to read the change back from the database: a node's new desired-state version, an event seq range,
 * a network's new version (its peer streams send a fresh snapshot), a revoked certificate or ended
 * node (identity caches drop it).
 * Each hub ignores its own messages (it has already published them in process). On PGlite (one
 * process) the bus sends and hears nothing.
 */
import { sql } from "drizzle-orm";
import type { Db, DbHandle } from "../db/client.ts";
import type { Logger } from "../log.ts";

export const CLUSTER_CHANNEL = "powernode_hub";

/** What one hub tells the others. */
export type ClusterMessage =
  | { k: "desired"; node: string; version: number }
  | { k: "events"; from: number; to: number }
  | { k: "network"; id: string; version: number }
  /** An attestation challenge opened (`nonce` hex) or consumed (`nonce` empty) on another hub. */
  | { k: "attest"; node: string; nonce: string; expires: number }
  /** A certificate revoked (`serial`) or a node's certificates ended (`node`): cached identities go. */
  | { k: "identity"; serial: string }
  | { k: "identity"; node: string };

export interface ClusterBus {
  /** This process's id in messages (random per start). */
  hubId: string;
  /** True when other processes can hear this one (PostgreSQL). */
  shared: boolean;
  /** Queues `msg` in `tx`: the other hubs get it when `tx` commits. */
  notify(tx: Pick<Db, "execute">, msg: ClusterMessage): Promise<void>;
  /** Calls `fn` for every message of another hub; returns the unsubscribe. */
  subscribe(fn: (msg: ClusterMessage) => void): () => void;
  close(): Promise<void>;
}

/** Parses a notification payload; undefined for anything not from a hub (or from this one). */
export function parseClusterMessage(payload: string, self: string): ClusterMessage | undefined {
  let v: unknown;
  try {
    v = JSON.parse(payload);
  } catch {
    return undefined;
  }
  const m = v as {
    h?: unknown;
    k?: unknown;
    node?: unknown;
    version?: unknown;
    from?: unknown;
    to?: unknown;
  };
  if (typeof m?.h !== "string" || m.h === self) return undefined;
  if (m.k === "desired" && typeof m.node === "string" && Number.isSafeInteger(m.version))
    return { k: "desired", node: m.node, version: m.version as number };
  if (m.k === "events" && Number.isSafeInteger(m.from) && Number.isSafeInteger(m.to))
    return { k: "events", from: m.from as number, to: m.to as number };
  const n = v as { id?: unknown; nonce?: unknown; expires?: unknown };
  if (
    m.k === "attest" &&
    typeof m.node === "string" &&
    typeof n.nonce === "string" &&
    /^([0-9a-f]{64})?$/.test(n.nonce) &&
    Number.isSafeInteger(n.expires)
  )
    return { k: "attest", node: m.node, nonce: n.nonce, expires: n.expires as number };
  const i = v as { serial?: unknown };
  if (m.k === "identity" && typeof i.serial === "string" && i.serial.length <= 128)
    return { k: "identity", serial: i.serial };
  if (m.k === "identity" && typeof m.node === "string" && m.node.length <= 64)
    return { k: "identity", node: m.node };
  if (m.k === "network" && typeof n.id === "string" && Number.isSafeInteger(m.version))
    return { k: "network", id: n.id, version: m.version as number };
  return undefined;
}

/** The bus of a hub over `handle`; starts listening at once on PostgreSQL. */
export async function createClusterBus(handle: DbHandle, log: Logger): Promise<ClusterBus> {
  const hubId = crypto.randomUUID();
  const subs = new Set<(m: ClusterMessage) => void>();
  const shared = handle.driver === "postgres" && handle.listen !== undefined;
  const deliver = (payload: string) => {
    const msg = parseClusterMessage(payload, hubId);
    if (!msg) return;
    for (const fn of subs) {
      try {
        fn(msg);
      } catch (e) {
        log.warn("cluster message handler threw", { kind: msg.k, error: e });
      }
    }
  };
  const unlisten = shared && handle.listen ? await handle.listen(CLUSTER_CHANNEL, deliver) : undefined;
  return {
    hubId,
    shared,
    async notify(tx, msg) {
      if (!shared) return;
      await tx.execute(sql`select pg_notify(${CLUSTER_CHANNEL}, ${JSON.stringify({ h: hubId, ...msg })})`);
    },
    subscribe(fn) {
      subs.add(fn);
      return () => {
        subs.delete(fn);
      };
    },
    async close() {
      subs.clear();
      await unlisten?.();
    },
  };
}
