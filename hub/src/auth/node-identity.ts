/**
 * Node identity from the mTLS peer certificate: the certificate must be issued by our CA (checked by
 * TLS), be recorded in `certificates`, unrevoked and unexpired, with CN = its instance, and that
 * instance must not be deleted. Results are cached per serial; revocation invalidates the entry.
 */
import { eq } from "drizzle-orm";
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
  const load = async (serial: string): Promise<Entry> => {
    const [row] = await db
      .select({
        instanceId: certificates.instanceId,
        notAfter: certificates.notAfter,
        revokedAt: certificates.revokedAt,
        state: instances.state,
      })
      .from(certificates)
      .innerJoin(instances, eq(instances.id, certificates.instanceId))
      .where(eq(certificates.serial, serial))
      .limit(1);
    const loadedAt = Date.now();
    if (!row) return { instanceId: "", notAfter: 0, ok: false, reason: "certificate unknown", loadedAt };
    if (row.revokedAt)
      return { instanceId: row.instanceId, notAfter: 0, ok: false, reason: "certificate revoked", loadedAt };
    if (row.state === "deleted") {
      return { instanceId: row.instanceId, notAfter: 0, ok: false, reason: "instance deleted", loadedAt };
    }
    return { instanceId: row.instanceId, notAfter: row.notAfter.getTime(), ok: true, reason: "", loadedAt };
  };
  return {
    async resolve(peer, now = new Date()) {
      if (!peer?.serial) throw new DomainError("unauthenticated", "client certificate: required");
      if (!peer.authorized) {
        throw new DomainError(
          "unauthenticated",
          `client certificate: not issued by the hub CA (${peer.authorizationError ?? "unverified"})`,
        );
      }
      const serial = normalise(peer.serial);
      let e = cache.get(serial);
      if (!e || now.getTime() - e.loadedAt > CACHE_TTL_MS) {
        e = await load(serial);
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
