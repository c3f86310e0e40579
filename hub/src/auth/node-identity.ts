/**
 * Node identity from the mTLS peer certificate: the certificate must be issued by our CA (checked by
 * TLS), be recorded in `certificates`, unrevoked and unexpired, with CN = its instance, and that
 * instance must not be deleted. Results are cached per serial; revocation invalidates the entry.
 */
import { eq, inArray } from "drizzle-orm";
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
  /** Forget a serial (after revocation) or everything for an instance (after delete/stop). */
  invalidateSerial(serial: string): void;
  invalidateInstance(instanceId: string): void;
}

interface Entry {
  instanceId: string;
  notAfter: number;
  ok: boolean;
  reason: string;
  loadedAt: number;
}

/** Entries are re-read after this long, so another hub process's revocation also applies. */
const CACHE_TTL_MS = 30_000;

function normalise(serial: string): string {
  const s = serial.replace(/:/g, "").toLowerCase().replace(/^0+/, "");
  return s === "" ? "0" : s;
}

/** Creates the resolver over `db`. */
export function createNodeIdentityResolver(db: Db): NodeIdentityResolver {
  const cache = new Map<string, Entry>();
  const toEntry = (
    row: { instanceId: string; notAfter: Date; revokedAt: Date | null; state: string } | undefined,
    loadedAt: number,
  ): Entry => {
    if (!row) return { instanceId: "", notAfter: 0, ok: false, reason: "certificate unknown", loadedAt };
    if (row.revokedAt)
      return { instanceId: row.instanceId, notAfter: 0, ok: false, reason: "certificate revoked", loadedAt };
    if (row.state === "deleted") {
      return { instanceId: row.instanceId, notAfter: 0, ok: false, reason: "instance deleted", loadedAt };
    }
    return { instanceId: row.instanceId, notAfter: row.notAfter.getTime(), ok: true, reason: "", loadedAt };
  };
  // Lookups that miss the cache in the same tick are answered by one query (a reconnect storm after a
  // hub restart is thousands of them).
  let waiting = new Map<string, ((e: Entry) => void)[]>();
  let failing = new Map<string, ((e: unknown) => void)[]>();
  let scheduled = false;
  const flush = async () => {
    scheduled = false;
    const batch = waiting;
    const fails = failing;
    waiting = new Map();
    failing = new Map();
    try {
      const rows = await db
        .select({
          serial: certificates.serial,
          instanceId: certificates.instanceId,
          notAfter: certificates.notAfter,
          revokedAt: certificates.revokedAt,
          state: instances.state,
        })
        .from(certificates)
        .innerJoin(instances, eq(instances.id, certificates.instanceId))
        .where(inArray(certificates.serial, [...batch.keys()]));
      const bySerial = new Map(rows.map((r) => [r.serial, r]));
      const loadedAt = Date.now();
      for (const [serial, resolvers] of batch) {
        const e = toEntry(bySerial.get(serial), loadedAt);
        for (const r of resolvers) r(e);
      }
    } catch (e) {
      for (const rejects of fails.values()) for (const r of rejects) r(e);
    }
  };
  const load = (serial: string): Promise<Entry> =>
    new Promise((resolve, reject) => {
      waiting.set(serial, [...(waiting.get(serial) ?? []), resolve]);
      failing.set(serial, [...(failing.get(serial) ?? []), reject]);
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
      if (!e || now.getTime() - e.loadedAt > CACHE_TTL_MS) {
        // Age entries on the caller's clock (the one the TTL is compared against).
        e = { ...(await load(serial)), loadedAt: now.getTime() };
        if (cache.size > 100_000) cache.clear();
        cache.set(serial, e);
      }
      if (!e.ok) throw new DomainError("unauthenticated", `client certificate: ${e.reason}`);
      if (e.notAfter <= now.getTime())
        throw new DomainError("unauthenticated", "client certificate: expired");
      if (peer.commonName.toLowerCase() !== e.instanceId) {
        throw new DomainError("permission", "client certificate: CN does not match the certificate record");
      }
      return { instanceId: e.instanceId, serial };
    },
    invalidateSerial(serial) {
      cache.delete(normalise(serial));
    },
    invalidateInstance(instanceId) {
      for (const [k, v] of cache) if (v.instanceId === instanceId) cache.delete(k);
    },
  };
}
