import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { createTestDb } from "../../test/harness.ts";
import { certificates, instances } from "../db/schema/index.ts";
import { createNodeIdentityResolver } from "./node-identity.ts";

let db: Awaited<ReturnType<typeof createTestDb>>;
const id = "00000000-0000-4000-8000-00000000000a";
const now = new Date("2027-01-01T00:00:00Z");
const DAY = 86_400_000;

beforeAll(async () => {
  db = await createTestDb();
  await db.db.insert(instances).values({ id, name: "ident", arch: "amd64", provider: "none" });
  await db.db.insert(certificates).values([
    {
      serial: "1a2b",
      instanceId: id,
      notBefore: new Date(now.getTime() - DAY),
      notAfter: new Date(now.getTime() + DAY),
      pem: "x",
    },
    {
      serial: "3c4d",
      instanceId: id,
      notBefore: new Date(now.getTime() - 2 * DAY),
      notAfter: new Date(now.getTime() - 1),
      pem: "x",
    },
  ]);
}, 30_000);
afterAll(async () => {
  await db.close();
});

const peer = (serial: string, commonName = id, authorized = true) => ({ authorized, serial, commonName });

async function refusal(p: Promise<unknown>): Promise<string> {
  return p.then(
    () => "accepted",
    (e: Error & { kind?: string }) => `${e.kind}: ${e.message}`,
  );
}

describe("node identity from the peer certificate", () => {
  test("a recorded, valid certificate is the node (serial matched however openssl or node prints it)", async () => {
    const r = createNodeIdentityResolver(db.db);
    expect(await r.resolve(peer("00:1A:2B"), now)).toEqual({ instanceId: id, serial: "1a2b" });
  });

  test("refusals: none, unverified chain, unknown serial, expired, CN not the recorded instance", async () => {
    const r = createNodeIdentityResolver(db.db);
    expect(await refusal(r.resolve(undefined, now))).toBe("unauthenticated: client certificate: required");
    expect(await refusal(r.resolve(peer("1a2b", id, false), now))).toBe(
      "unauthenticated: client certificate: does not verify against the hub CA (unverified)",
    );
    expect(await refusal(r.resolve(peer("ffff"), now))).toBe(
      "unauthenticated: client certificate: certificate unknown",
    );
    expect(await refusal(r.resolve(peer("3c4d"), now))).toBe("unauthenticated: client certificate: expired");
    expect(await refusal(r.resolve(peer("1a2b", "00000000-0000-4000-8000-00000000000b"), now))).toBe(
      "permission: client certificate: CN does not match the certificate record",
    );
  });

  test("revocation by another process applies once the cache entry is older than the TTL; invalidation at once", async () => {
    const r = createNodeIdentityResolver(db.db, { ttlMs: 5_000 });
    expect(r.ttlMs).toBe(5_000);
    await r.resolve(peer("1a2b"), now);
    await db.db.update(certificates).set({ revokedAt: now }).where(eq(certificates.serial, "1a2b"));
    // Still cached (another process revoked it, this one was not told).
    expect(await refusal(r.resolve(peer("1a2b"), new Date(now.getTime() + 4_000)))).toBe("accepted");
    expect(await refusal(r.resolve(peer("1a2b"), new Date(now.getTime() + 5_001)))).toBe(
      "unauthenticated: client certificate: certificate revoked",
    );
    await db.db.update(certificates).set({ revokedAt: null }).where(eq(certificates.serial, "1a2b"));
    r.invalidateSerial("1a2b");
    expect(await refusal(r.resolve(peer("1a2b"), new Date(now.getTime() + 6_000)))).toBe("accepted");
  });

  test("an invalidation is announced to the other hubs; forget drops the entry here only", async () => {
    const told: unknown[] = [];
    const r = createNodeIdentityResolver(db.db, {
      ttlMs: 300_000,
      recheckMs: 5_000,
      announce: async (c) => {
        told.push(c);
      },
    });
    expect([r.ttlMs, r.recheckMs]).toEqual([300_000, 5_000]);
    await r.resolve(peer("1a2b"), now);
    await db.db.update(certificates).set({ revokedAt: now }).where(eq(certificates.serial, "1a2b"));
    // What another hub's announcement does: the entry is read again on the next call.
    r.forget({ serial: "1A:2B" });
    expect(await refusal(r.resolve(peer("1a2b"), now))).toBe(
      "unauthenticated: client certificate: certificate revoked",
    );
    expect(told).toEqual([]);
    await db.db.update(certificates).set({ revokedAt: null }).where(eq(certificates.serial, "1a2b"));
    await r.invalidateSerial("1a2b");
    await r.invalidateInstance(id);
    expect(told).toEqual([{ serial: "1a2b" }, { instanceId: id }]);
    expect(await refusal(r.resolve(peer("1a2b"), now))).toBe("accepted");
  });

  test("concurrent misses are answered by one batched lookup", async () => {
    const r = createNodeIdentityResolver(db.db);
    const results = await Promise.all([
      r.resolve(peer("1a2b"), now),
      r.resolve(peer("1a2b"), now),
      refusal(r.resolve(peer("3c4d"), now)),
    ]);
    expect(results).toEqual([
      { instanceId: id, serial: "1a2b" },
      { instanceId: id, serial: "1a2b" },
      "unauthenticated: client certificate: expired",
    ]);
  });

  test("the first use of a newer certificate revokes the node's older live ones, and says so once", async () => {
    const other = "00000000-0000-4000-8000-00000000000c";
    await db.db
      .insert(instances)
      .values({ id: other, name: "ident-renewed", arch: "amd64", provider: "none" });
    await db.db.insert(certificates).values([
      {
        serial: "a1",
        instanceId: other,
        notBefore: new Date(now.getTime() - 3 * DAY),
        notAfter: new Date(now.getTime() + DAY),
        pem: "x",
      },
      {
        serial: "a2",
        instanceId: other,
        notBefore: new Date(now.getTime() - 2 * DAY),
        notAfter: new Date(now.getTime() + DAY),
        pem: "x",
      },
      {
        serial: "a3",
        instanceId: other,
        notBefore: new Date(now.getTime() - DAY),
        notAfter: new Date(now.getTime() + 2 * DAY),
        pem: "x",
      },
    ]);
    const told: string[] = [];
    const r = createNodeIdentityResolver(db.db, {
      onSuperseded: async (node, serials, by) => {
        told.push(`${node} ${[...serials].sort().join(",")} by ${by}`);
      },
    });
    // a1 is still good while nothing newer has been used.
    expect(await r.resolve(peer("a1", other), now)).toEqual({ instanceId: other, serial: "a1" });
    expect(told).toEqual([]);
    // a2 is used: a1 goes; then a3 is used: a2 goes. a3 stays, and nothing is told twice.
    expect(await r.resolve(peer("a2", other), now)).toEqual({ instanceId: other, serial: "a2" });
    expect(await refusal(r.resolve(peer("a1", other), now))).toBe(
      "unauthenticated: client certificate: certificate revoked",
    );
    expect(await r.resolve(peer("a3", other), new Date(now.getTime() + 10_000))).toEqual({
      instanceId: other,
      serial: "a3",
    });
    expect(await refusal(r.resolve(peer("a2", other), new Date(now.getTime() + 10_000)))).toBe(
      "unauthenticated: client certificate: certificate revoked",
    );
    r.invalidateSerial("a3");
    await r.resolve(peer("a3", other), new Date(now.getTime() + 20_000));
    expect(told).toEqual([`${other} a1 by a2`, `${other} a2 by a3`]);
  });
});
