/**
 * Node identity from the mTLS peer certificate: the certificate must be issued by our CA (checked by
 * TLS), be recorded in `certificates`, unrevoked and unexpired, with CN = its instance, and that
 * instance must not be deleted. Results are cached per serial for at most `ttlMs`. A revocation or
 * deletion made through this process invalidates the entry at once and is announced (`announce`: the
 * hub sends it over the cluster bus, decision 0044), so other hub processes drop theirs when the
 * message arrives; the TTL is the backstop for a change no hub announced (a lost notification, a row
 * edited by hand). Open streams re-check their identity every `recheckMs`.
 *
 * Renewal is one-way: the first time a certificate is seen (each cache load), every older live
 * certificate of the same node is revoked, so a renewed node's previous serial stops working as soon
 * as the new one is used.
 */
import { and, eq, gt, inArray, isNull, lt, sql } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { certificates, instances } from "../db/schema/index.ts";
import { DomainError } from "../errors.ts";

/** The peer certificate as the mTLS listener saw it. */
export interface PeerCertificate {
  /** True when TLS verified the chain against our CA. */
  authorized: boolean;
  authorizationError?: string;
  /** Hex serial (any case, optional colons). */
  serial: string;
  commonName: string;
}

/** An authenticated node. */
export interface NodeIdentity {
  instanceId: string;
  serial: string;
}

/** Resolves and caches node identities. */
export interface NodeIdentityResolver {
  resolve(peer: PeerCertificate | undefined, now?: Date): Promise<NodeIdentity>;
  /**
   * Forget a serial (after revocation) or everything for an instance (after delete/stop), here at once
   * and on the other hubs by the announcement the returned promise waits for.
   */
  invalidateSerial(serial: string): Promise<void>;
  invalidateInstance(instanceId: string): Promise<void>;
  /** Drops entries on this process only: what another hub's announcement does. */
  forget(what: IdentityChange): void;
  /** How long an entry is trusted before it is read again. */
  readonly ttlMs: number;
  /** How often an open stream re-checks its caller's identity. */
  readonly recheckMs: number;
}

/** A change that ends cached identities: one certificate, or every certificate of a node. */
export type IdentityChange = { serial: string } | { instanceId: string };

/** Options of {@link createNodeIdentityResolver}. */
export interface NodeIdentityOptions {
  /** Cache entries are re-read after this long (default {@link DEFAULT_IDENTITY_TTL_MS}). */
  ttlMs?: number;
  /** Open streams re-check at this period (default: `ttlMs`). */
  recheckMs?: number;
  /** Tells the other hub processes of an invalidation (default: nothing to tell, one process). */
  announce?(change: IdentityChange): Promise<void>;
  /** Told of older certificates revoked because a newer one of the same node was used. */
  onSuperseded?(instanceId: string, revokedSerials: readonly string[], bySerial: string): Promise<void>;
}

interface Entry {
  instanceId: string;
  notAfter: number;
  ok: boolean;
  reason: string;
  loadedAt: number;
}

/** A resolver's default cache period, for a resolver nobody announces changes to. */
export const DEFAULT_IDENTITY_TTL_MS = 5_000;

/**
 * The hub's cache period: its revocations and deletions are announced to every hub process, so this
 * only bounds a change none of them announced (decision 0044).
 */
export const HUB_IDENTITY_CACHE_MS = 5 * 60_000;

const normalised = new Map<string, string>();

/** The serial as the certificates table keys it; each connection's serial is normalised once. */
function normalise(serial: string): string {
  let n = normalised.get(serial);
  if (n === undefined) {
    const s = serial.replace(/:/g, "").toLowerCase().replace(/^0+/, "");
    n = s === "" ? "0" : s;
    if (normalised.size > 100_000) normalised.clear();
    normalised.set(serial, n);
  }
  return n;
}

interface Row {
  serial: string;
  instanceId: string;
  notBefore: Date;
  notAfter: Date;
  revokedAt: Date | null;
  state: string;
  olderLive: boolean;
}

/** Creates the resolver over `db`. */
export function createNodeIdentityResolver(db: Db, opts: NodeIdentityOptions = {}): NodeIdentityResolver {
  const ttlMs = opts.ttlMs ?? DEFAULT_IDENTITY_TTL_MS;
  const cache = new Map<string, Entry>();
  // Invalidations so far: a lookup in flight across one does not cache what it read.
  let forgotten = 0;
  const forget = (what: IdentityChange) => {
    forgotten++;
    if ("serial" in what) cache.delete(normalise(what.serial));
    else for (const [k, v] of cache) if (v.instanceId === what.instanceId) cache.delete(k);
  };
  const toEntry = (row: Row | undefined, loadedAt: number): Entry => {
    if (!row) return { instanceId: "", notAfter: 0, ok: false, reason: "certificate unknown", loadedAt };
    if (row.revokedAt)
      return { instanceId: row.instanceId, notAfter: 0, ok: false, reason: "certificate revoked", loadedAt };
    if (row.state === "deleted") {
      return { instanceId: row.instanceId, notAfter: 0, ok: false, reason: "instance deleted", loadedAt };
    }
    return { instanceId: row.instanceId, notAfter: row.notAfter.getTime(), ok: true, reason: "", loadedAt };
  };
  // Revokes the live certificates of `row`'s node issued before it (its use proves the node has it).
  const retireOlder = async (row: Row, now: Date): Promise<void> => {
    const revoked = await db
      .update(certificates)
      .set({ revokedAt: now, updatedAt: now })
      .where(
        and(
          eq(certificates.instanceId, row.instanceId),
          isNull(certificates.revokedAt),
          lt(certificates.notBefore, row.notBefore),
          gt(certificates.notAfter, now),
        ),
      )
      .returning({ serial: certificates.serial });
    for (const r of revoked) {
      forget({ serial: r.serial });
      await opts.announce?.({ serial: r.serial });
    }
    if (revoked.length > 0)
      await opts.onSuperseded?.(
        row.instanceId,
        revoked.map((r) => r.serial),
        row.serial,
      );
  };
  // Lookups that miss the cache in the same tick are answered by one query (a reconnect storm after a
  // hub restart is thousands of them).
  let waiting = new Map<string, ((e: Entry) => void)[]>();
  let failing = new Map<string, ((e: unknown) => void)[]>();
  let nowOf = new Map<string, Date>();
  let scheduled = false;
  const flush = async () => {
    scheduled = false;
    const batch = waiting;
    const fails = failing;
    const nows = nowOf;
    waiting = new Map();
    failing = new Map();
    nowOf = new Map();
    try {
      const wall = new Date();
      const rows: Row[] = await db
        .select({
          serial: certificates.serial,
          instanceId: certificates.instanceId,
          notBefore: certificates.notBefore,
          notAfter: certificates.notAfter,
          revokedAt: certificates.revokedAt,
          state: instances.state,
          olderLive:
            sql<boolean>`exists (select 1 from ${certificates} as older where older.instance_id = ${certificates.instanceId} and older.revoked_at is null and older.not_before < ${certificates.notBefore} and older.not_after > ${wall.toISOString()}::timestamptz)`.mapWith(
              Boolean,
            ),
        })
        .from(certificates)
        .innerJoin(instances, eq(instances.id, certificates.instanceId))
        .where(inArray(certificates.serial, [...batch.keys()]));
      const bySerial = new Map(rows.map((r) => [r.serial, r]));
      for (const r of rows) {
        const now = nows.get(r.serial) ?? new Date();
        const usable = !r.revokedAt && r.state !== "deleted" && r.notAfter.getTime() > now.getTime();
        if (usable && r.olderLive) await retireOlder(r, now);
      }
      const loadedAt = Date.now();
      for (const [serial, resolvers] of batch) {
        const e = toEntry(bySerial.get(serial), loadedAt);
        for (const r of resolvers) r(e);
      }
    } catch (e) {
      for (const rejects of fails.values()) for (const r of rejects) r(e);
    }
  };
  const load = (serial: string, now: Date): Promise<Entry> =>
    new Promise((resolve, reject) => {
      waiting.set(serial, [...(waiting.get(serial) ?? []), resolve]);
      failing.set(serial, [...(failing.get(serial) ?? []), reject]);
      nowOf.set(serial, now);
      if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    });
  return {
    async resolve(peer, now = new Date()) {
      if (!peer?.serial) throw new DomainError("unauthenticated", "client certificate: required");
      if (!peer.authorized) {
        throw new DomainError(
          "unauthenticated",
          `client certificate: does not verify against the hub CA (${peer.authorizationError ?? "unverified"})`,
        );
      }
      const serial = normalise(peer.serial);
      let e = cache.get(serial);
      if (!e || now.getTime() - e.loadedAt > ttlMs) {
        // A lookup that read the row before an invalidation (here, or announced by another hub)
        // answers this call but is not kept: the next call reads the row again.
        const before = forgotten;
        // Age entries on the caller's clock (the one the TTL is compared against).
        e = { ...(await load(serial, now)), loadedAt: now.getTime() };
        if (cache.size > 100_000) cache.clear();
        if (forgotten === before) cache.set(serial, e);
      }
      if (!e.ok) throw new DomainError("unauthenticated", `client certificate: ${e.reason}`);
      if (e.notAfter <= now.getTime())
        throw new DomainError("unauthenticated", "client certificate: expired");
      if (peer.commonName.toLowerCase() !== e.instanceId) {
        throw new DomainError("permission", "client certificate: CN does not match the certificate record");
      }
      return { instanceId: e.instanceId, serial };
    },
    async invalidateSerial(serial) {
      forget({ serial });
      await opts.announce?.({ serial });
    },
    async invalidateInstance(instanceId) {
      forget({ instanceId });
      await opts.announce?.({ instanceId });
    },
    forget,
    ttlMs,
    recheckMs: opts.recheckMs ?? ttlMs,
  };
}
