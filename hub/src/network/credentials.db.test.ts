/**
 * Membership credentials over the database: issue/supersede/revoke, ensure-fresh's idempotence and
 * what makes it reissue, the refresh job, concurrent issuers of one member (on PostgreSQL these run on
 * separate connections, for real), and every credential verifying with the network's constellation key.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { randomBytes, randomUUID } from "node:crypto";
import { ENVELOPE_KEYS, EVENTS, verifyCredential } from "@powernode/proto";
import { and, eq } from "drizzle-orm";
import { createTestDb, quietLog, testDbKind } from "../../test/harness.ts";
import { createKeyAtRest, networkKeyContext } from "../ca/index.ts";
import {
  fleetEvents,
  instances,
  membershipCredentials,
  networkMembers,
  networks,
} from "../db/schema/index.ts";
import { createEventLog, type FleetEventRecord } from "../events/index.ts";
import { createConstellationKey } from "./constellation.ts";
import {
  activeCredential,
  type CredentialDeps,
  ensureFresh,
  type InTransaction,
  issueCredential,
  refreshDueCredentials,
  revokeCredentials,
  toWire,
} from "./credentials.ts";

let h: Awaited<ReturnType<typeof createTestDb>>;
let clock = new Date("2030-01-01T00:00:00Z");
let deps: CredentialDeps & { log: typeof quietLog };
const published: FleetEventRecord[] = [];

beforeAll(async () => {
  h = await createTestDb();
  const events = createEventLog(h.db, quietLog);
  events.subscribe({ kindPrefix: "system.credential." }, (e) => published.push(e));
  deps = {
    db: h.db,
    events,
    now: () => clock,
    keys: createKeyAtRest(randomBytes(32), "test"),
    log: quietLog,
  };
}, 30_000);
afterAll(async () => {
  await h.close();
});

const wgKey = (n: number) => Buffer.alloc(32, n).toString("base64");
const advance = (seconds: number) => {
  clock = new Date(clock.getTime() + seconds * 1000);
};

/** A network (with a fresh constellation key), a node and its membership, inserted directly. */
async function fixture(opts: { publicKey?: string | null; endpoints?: string[] } = {}) {
  const key = createConstellationKey();
  const handle = randomUUID().replace(/-/g, "").slice(0, 6);
  const id = randomUUID();
  const [network] = await h.db
    .insert(networks)
    .values({
      id,
      name: `cred-${handle}`,
      handle,
      prefix: "fd12:3456:789a:1::/64",
      ...key,
      signingKeyPem: deps.keys.seal(key.signingKeyPem, networkKeyContext(id)),
    })
    .returning();
  const [node] = await h.db
    .insert(instances)
    .values({ name: `cred-node-${handle}`, arch: "amd64", provider: "none" })
    .returning();
  if (!network || !node) throw new Error("fixture rows not written");
  const [member] = await h.db
    .insert(networkMembers)
    .values({
      networkId: network.id,
      instanceId: node.id,
      address: "fd12:3456:789a:1:8c2e:11aa:5f03:9b21",
      publicKey: opts.publicKey === undefined ? wgKey(1) : opts.publicKey,
      endpoints: opts.endpoints ?? ["192.0.2.10:51820"],
    })
    .returning();
  if (!member) throw new Error("fixture member not written");
  return { network, node, member, key };
}

async function credentialsOf(memberId: string) {
  return h.db
    .select()
    .from(membershipCredentials)
    .where(eq(membershipCredentials.memberId, memberId))
    .orderBy(membershipCredentials.revision);
}

describe(`membership credentials (${testDbKind})`, () => {
  test("issue writes an active, signed credential naming the member; the wire form verifies", async () => {
    const { network, node, member, key } = await fixture();
    const row = await issueCredential(deps, member.id);
    expect(row).toMatchObject({ revision: 1, status: "active", networkId: network.id, memberId: member.id });
    expect(row.notAfter.getTime() - clock.getTime()).toBe(3600_000);
    expect(row.refreshAfter.getTime() - clock.getTime()).toBe(1800_000);
    expect(clock.getTime() - row.notBefore.getTime()).toBe(30_000);
    const envelope = JSON.parse(row.envelope) as Record<string, unknown>;
    expect(Object.keys(envelope)).toEqual([...ENVELOPE_KEYS]);
    expect(envelope).toMatchObject({
      iss: key.constellationHandle,
      sub: node.id,
      aud: `net-${network.handle}`,
      rev: 1,
      wg_pubkey: wgKey(1),
      addr_v6: member.address,
      endpoints: ["192.0.2.10:51820"],
    });
    const wire = toWire(row);
    expect(wire.constellationHandle).toBe(key.constellationHandle);
    expect(wire.revision).toBe(1n);
    expect(wire.refreshAfter?.seconds).toBe(BigInt(row.refreshAfter.getTime() / 1000));
    const v = verifyCredential(wire, network.signingPublicKey, {
      now: clock,
      expect: { publicKey: wgKey(1), address: member.address, aud: `net-${network.handle}`, sub: node.id },
    });
    expect(v.ok ? "ok" : v.reason).toBe("ok");
    const [event] = await h.db
      .select()
      .from(fleetEvents)
      .where(and(eq(fleetEvents.nodeId, node.id), eq(fleetEvents.kind, EVENTS.credentialIssued.kind)));
    expect(event?.payload).toMatchObject({ memberId: member.id, revision: 1, supersededRevision: null });
    expect(published.some((e) => e.id === event?.id)).toBe(true);
  });

  test("issue again supersedes: a higher revision, the old one no longer active", async () => {
    const { member } = await fixture();
    const first = await issueCredential(deps, member.id);
    const second = await issueCredential(deps, member.id);
    expect(second.revision).toBe(first.revision + 1);
    expect((await credentialsOf(member.id)).map((r) => [r.revision, r.status])).toEqual([
      [1, "superseded"],
      [2, "active"],
    ]);
    expect((await activeCredential(h.db, member.id))?.id).toBe(second.id);
  });

  test("a member without a public key gets no credential: precondition naming it", async () => {
    const { member, node } = await fixture({ publicKey: null });
    const err = await issueCredential(deps, member.id).catch((e: Error & { kind?: string }) => e);
    expect(err).toMatchObject({
      kind: "precondition",
      message: `member ${member.id} (node ${node.id}): has reported no WireGuard public key yet`,
    });
    expect(await credentialsOf(member.id)).toEqual([]);
  });

  test("an unknown member is not_found", async () => {
    const id = randomUUID();
    await expect(ensureFresh(deps, id)).rejects.toMatchObject({
      kind: "not_found",
      message: `member ${id}: no such network member`,
    });
  });

  test("bad timing options are refused naming the option", async () => {
    const { member } = await fixture();
    await expect(issueCredential(deps, member.id, { ttlSeconds: 0 })).rejects.toThrow("ttlSeconds: 0");
    await expect(issueCredential(deps, member.id, { refreshAfterSeconds: 3600 })).rejects.toThrow(
      "refreshAfterSeconds: 3600",
    );
  });

  test("ensure-fresh returns the active row unchanged inside its refresh window", async () => {
    const { member } = await fixture();
    const a = await ensureFresh(deps, member.id);
    expect(a.issued).toBe(true);
    advance(1799);
    const b = await ensureFresh(deps, member.id);
    expect(b).toEqual({ credential: a.credential, issued: false });
    advance(1);
    const c = await ensureFresh(deps, member.id);
    expect(c.issued).toBe(true);
    expect(c.credential.revision).toBe(2);
  });

  test("ensure-fresh reissues when the key, address or endpoints change", async () => {
    const { member } = await fixture();
    const revisionAfter = async (set: Partial<typeof networkMembers.$inferInsert>) => {
      await h.db.update(networkMembers).set(set).where(eq(networkMembers.id, member.id));
      const r = await ensureFresh(deps, member.id);
      expect(r.issued).toBe(true);
      return JSON.parse(r.credential.envelope) as Record<string, unknown>;
    };
    await ensureFresh(deps, member.id);
    expect(await revisionAfter({ publicKey: wgKey(2) })).toMatchObject({ rev: 2, wg_pubkey: wgKey(2) });
    expect(await revisionAfter({ address: "fd12:3456:789a:1::77" })).toMatchObject({
      rev: 3,
      addr_v6: "fd12:3456:789a:1::77",
    });
    expect(await revisionAfter({ endpoints: ["198.51.100.1:51820"] })).toMatchObject({
      rev: 4,
      endpoints: ["198.51.100.1:51820"],
    });
    expect((await ensureFresh(deps, member.id)).issued).toBe(false);
  });

  test("revoke: every unrevoked credential revoked, none active; ensure-fresh then issues anew", async () => {
    const { member, node } = await fixture();
    await issueCredential(deps, member.id);
    await issueCredential(deps, member.id);
    expect(await revokeCredentials(deps, member.id)).toBe(2);
    expect(await activeCredential(h.db, member.id)).toBeUndefined();
    const rows = await credentialsOf(member.id);
    expect(rows.map((r) => r.status)).toEqual(["revoked", "revoked"]);
    expect(rows.every((r) => r.revokedAt?.getTime() === clock.getTime())).toBe(true);
    expect(await revokeCredentials(deps, member.id)).toBe(0);
    const revokedEvents = await h.db
      .select()
      .from(fleetEvents)
      .where(and(eq(fleetEvents.nodeId, node.id), eq(fleetEvents.kind, EVENTS.credentialRevoked.kind)));
    expect(revokedEvents.map((e) => e.payload)).toEqual([
      expect.objectContaining({ memberId: member.id, revoked: 2, revisions: [1, 2] }),
    ]);
    const fresh = await ensureFresh(deps, member.id);
    expect(fresh).toMatchObject({ issued: true, credential: { revision: 3, status: "active" } });
  });

  test("the refresh job reissues only active credentials past refresh_after", async () => {
    const due = await fixture();
    const revoked = await fixture();
    const young = await fixture();
    await issueCredential(deps, due.member.id);
    await issueCredential(deps, revoked.member.id);
    await revokeCredentials(deps, revoked.member.id);
    advance(1800);
    await issueCredential(deps, young.member.id);
    const refreshed = await refreshDueCredentials(deps);
    expect(refreshed).toContain(due.member.id);
    expect(refreshed).not.toContain(revoked.member.id);
    expect(refreshed).not.toContain(young.member.id);
    expect((await activeCredential(h.db, due.member.id))?.revision).toBe(2);
    expect(await activeCredential(h.db, revoked.member.id)).toBeUndefined();
    expect(await refreshDueCredentials(deps)).toEqual([]);
  });

  test("concurrent issuers of one member: distinct revisions, exactly one active", async () => {
    const { member } = await fixture();
    const rows = await Promise.all(Array.from({ length: 6 }, () => issueCredential(deps, member.id)));
    expect(rows.map((r) => r.revision).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6]);
    const stored = await credentialsOf(member.id);
    expect(stored.filter((r) => r.status === "active").map((r) => r.revision)).toEqual([6]);
  });

  test("concurrent ensure-fresh of one member issues once", async () => {
    const { member } = await fixture();
    const results = await Promise.all(Array.from({ length: 6 }, () => ensureFresh(deps, member.id)));
    expect(results.filter((r) => r.issued)).toHaveLength(1);
    expect(new Set(results.map((r) => r.credential.id)).size).toBe(1);
    expect(await credentialsOf(member.id)).toHaveLength(1);
  });

  test("within the caller's transaction: a rollback leaves no credential and publishes nothing", async () => {
    const { member, node } = await fixture();
    const before = published.length;
    const written: FleetEventRecord[] = [];
    await h.db
      .transaction(async (tx) => {
        const within: InTransaction = { tx, written };
        await issueCredential(deps, member.id, { within });
        expect(await activeCredential(tx, member.id)).toBeDefined();
        throw new Error("roll back");
      })
      .catch((e: Error) => expect(e.message).toBe("roll back"));
    expect(written.map((e) => e.kind)).toEqual([EVENTS.credentialIssued.kind]);
    expect(published.length).toBe(before);
    expect(await credentialsOf(member.id)).toEqual([]);
    expect(await h.db.select().from(fleetEvents).where(eq(fleetEvents.nodeId, node.id))).toEqual([]);

    await h.db.transaction(async (tx) => {
      await ensureFresh(deps, member.id, { within: { tx, written } });
    });
    deps.events.publish(written.slice(1));
    expect(published.length).toBe(before + 1);
    expect((await activeCredential(h.db, member.id))?.revision).toBe(1);
  });
  test("a transaction passed as db works too (a savepoint in it; its events are published on release)", async () => {
    const { member } = await fixture();
    const row = await h.db.transaction(async (tx) => issueCredential({ ...deps, db: tx }, member.id));
    expect((await activeCredential(h.db, member.id))?.id).toBe(row.id);
  });
});
