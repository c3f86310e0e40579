import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { eq, sql } from "drizzle-orm";
import { createTestDb, quietLog } from "../../test/harness.ts";
import { fleetEvents, instances } from "../db/schema/index.ts";
import { createEventLog } from "../events/event-log.ts";
import { createHeartbeatWriter, type HeartbeatInput } from "./heartbeat-writer.ts";

let db: Awaited<ReturnType<typeof createTestDb>>;
beforeAll(async () => {
  db = await createTestDb();
}, 30_000);
afterAll(async () => {
  await db.close();
});

describe("heartbeat writer", () => {
  test("overlapping concurrent batches: every ack persisted, one heartbeat.received per node and boot, no deadlock", async () => {
    const ids = Array.from({ length: 300 }, () => crypto.randomUUID());
    await db.db.insert(instances).values(
      ids.map((id, i) => ({
        id,
        name: `w-${i}`,
        arch: "amd64" as const,
        provider: "none",
        state: "starting" as const,
      })),
    );
    const writer = createHeartbeatWriter(db.db, createEventLog(db.db, quietLog), { maxInFlight: 4 });
    // 10 heartbeats per node, shuffled, so one node's heartbeats land in several in-flight batches.
    const calls = ids.flatMap((id) => Array.from({ length: 10 }, (_, k) => ({ id, k })));
    for (let i = calls.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      [calls[i], calls[j]] = [calls[j] as (typeof calls)[number], calls[i] as (typeof calls)[number]];
    }
    const results = await Promise.all(
      calls.map((c) =>
        writer.record({
          instanceId: c.id,
          bootId: "boot-1",
          agentVersion: "v",
          appliedVersion: c.k,
          uptimeSeconds: c.k,
          zombieCount: 0,
          agentRssBytes: 50_000_000 + c.k,
          childrenSpawned: c.k,
          at: new Date(),
        }),
      ),
    );
    expect(results).toHaveLength(calls.length);
    const rows = await db.db.select({ state: instances.state, bootId: instances.bootId }).from(instances);
    expect(new Set(rows.map((r) => `${r.state}/${r.bootId}`))).toEqual(new Set(["running/boot-1"]));
    const received = await db.db
      .select({ id: fleetEvents.id })
      .from(fleetEvents)
      .where(eq(fleetEvents.kind, "system.heartbeat.received"));
    expect(received).toHaveLength(ids.length);
    await writer.drain();
  });

  test("one batch mixing steady heartbeats, a new boot and a stopped node: each row gets its path and its events", async () => {
    const ids = Array.from({ length: 3 }, () => crypto.randomUUID());
    await db.db.insert(instances).values(
      ids.map((id, i) => ({
        id,
        name: `mix-${i}`,
        arch: "amd64" as const,
        provider: "none",
        state: "running" as const,
        bootId: "boot-a",
        desiredVersion: 7,
      })),
    );
    const [steady, reboot, stopped] = ids as [string, string, string];
    await db.db.update(instances).set({ state: "stopped" }).where(eq(instances.id, stopped));
    const writer = createHeartbeatWriter(db.db, createEventLog(db.db, quietLog));
    const hb = (instanceId: string, bootId: string, uptime: number) => ({
      instanceId,
      bootId,
      agentVersion: "v2",
      appliedVersion: 7,
      uptimeSeconds: uptime,
      zombieCount: 0,
      agentRssBytes: 1,
      childrenSpawned: 0,
      at: new Date(),
    });
    const [a, b, c] = await Promise.all([
      writer.record(hb(steady, "boot-a", 100)),
      writer.record(hb(reboot, "boot-b", 1)),
      writer.record(hb(stopped, "boot-a", 100)),
    ]);
    expect(a).toEqual({ desiredVersion: 7, firstOfBoot: false });
    expect(b).toEqual({ desiredVersion: 7, firstOfBoot: true });
    expect(c).toEqual({ desiredVersion: 7, firstOfBoot: false });
    const rows = await db.db
      .select({
        id: instances.id,
        state: instances.state,
        bootId: instances.bootId,
        uptime: instances.uptimeSeconds,
      })
      .from(instances)
      .where(
        sql`${instances.id} IN (${sql.join(
          ids.map((id) => sql`${id}::uuid`),
          sql`, `,
        )})`,
      );
    const byId = new Map(rows.map((r) => [r.id, r]));
    expect(byId.get(steady)).toMatchObject({ state: "running", bootId: "boot-a", uptime: 100 });
    expect(byId.get(reboot)).toMatchObject({ state: "running", bootId: "boot-b", uptime: 1 });
    expect(byId.get(stopped)).toMatchObject({ state: "running", bootId: "boot-a", uptime: 100 });
    const events = await db.db
      .select({ kind: fleetEvents.kind, nodeId: fleetEvents.nodeId })
      .from(fleetEvents)
      .where(
        sql`${fleetEvents.nodeId} IN (${sql.join(
          ids.map((id) => sql`${id}::uuid`),
          sql`, `,
        )})`,
      );
    expect(events.map((e) => `${e.kind} ${e.nodeId}`).sort()).toEqual(
      [`system.heartbeat.received ${reboot}`, `system.instance.running ${stopped}`].sort(),
    );
    await writer.drain();
  });

  test("a heartbeat for an unknown or deleted instance is refused as not_found", async () => {
    const writer = createHeartbeatWriter(db.db, createEventLog(db.db, quietLog));
    const hb = {
      instanceId: crypto.randomUUID(),
      bootId: "b",
      agentVersion: "",
      appliedVersion: 0,
      uptimeSeconds: 0,
      zombieCount: 0,
      agentRssBytes: 0,
      childrenSpawned: 0,
      at: new Date(),
    };
    await expect(writer.record(hb)).rejects.toThrow("instance: not found or deleted");
  });

  test("a row the database refuses fails alone: the batch is split until it is, every other caller gets its ack", async () => {
    const ids = Array.from({ length: 40 }, () => crypto.randomUUID());
    await db.db.insert(instances).values(
      ids.map((id, i) => ({
        id,
        name: `iso-${i}`,
        arch: "amd64" as const,
        provider: "none",
        state: "starting" as const,
      })),
    );
    // A refusal the edge cannot foresee (here a trigger; in life a constraint, a type the writer did
    // not expect): a data exception (SQLSTATE 22023) for one agent version.
    await db.db.execute(sql`
      CREATE FUNCTION pn_test_refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.agent_version = 'poison' THEN RAISE EXCEPTION 'poisoned row' USING ERRCODE = '22023'; END IF;
        RETURN NEW;
      END $$`);
    await db.db.execute(
      sql`CREATE TRIGGER pn_test_refuse_poison BEFORE UPDATE ON instances FOR EACH ROW EXECUTE FUNCTION pn_test_refuse_poison()`,
    );
    try {
      const batches: number[] = [];
      const writer = createHeartbeatWriter(db.db, createEventLog(db.db, quietLog), {
        onBatch: (rows) => batches.push(rows),
      });
      const hb = (id: string, i: number): HeartbeatInput => ({
        instanceId: id,
        bootId: "b",
        agentVersion: i === 7 || i === 31 ? "poison" : "ok",
        appliedVersion: 0,
        uptimeSeconds: 1,
        zombieCount: 0,
        agentRssBytes: 0,
        childrenSpawned: 0,
        at: new Date(),
      });
      const results = await Promise.allSettled(ids.map((id, i) => writer.record(hb(id, i))));
      const refused = results.flatMap((r, i) => (r.status === "rejected" ? [i] : []));
      expect(refused).toEqual([7, 31]);
      const reason = (results[7] as PromiseRejectedResult).reason as Error & { kind?: string };
      expect([reason.kind, reason.message]).toEqual([
        "invalid_argument",
        "heartbeat: refused by the database (SQLSTATE 22023)",
      ]);
      expect(batches.reduce((a, b) => a + b, 0)).toBe(38);
      const stored = await db.db.select({ id: instances.id, state: instances.state }).from(instances);
      const running = new Set(stored.filter((r) => r.state === "running").map((r) => r.id));
      expect(ids.filter((id) => running.has(id))).toHaveLength(38);
    } finally {
      await db.db.execute(sql`DROP TRIGGER pn_test_refuse_poison ON instances`);
      await db.db.execute(sql`DROP FUNCTION pn_test_refuse_poison()`);
    }
  });

  test("values that do not fit their columns are refused before they are queued", async () => {
    const writer = createHeartbeatWriter(db.db, createEventLog(db.db, quietLog));
    const base: HeartbeatInput = {
      instanceId: crypto.randomUUID(),
      bootId: "b",
      agentVersion: "",
      appliedVersion: 0,
      uptimeSeconds: 0,
      zombieCount: 0,
      agentRssBytes: 0,
      childrenSpawned: 0,
      at: new Date(),
    };
    const cases: [Partial<HeartbeatInput>, string][] = [
      [{ zombieCount: 2 ** 31 }, "zombie_count: out of range"],
      [{ childrenSpawned: -1 }, "children_spawned: out of range"],
      [{ appliedVersion: 2 ** 53 }, "applied_version: out of range"],
      [{ agentRssBytes: 1.5 }, "agent_rss_bytes: out of range"],
      [{ uptimeSeconds: Number.POSITIVE_INFINITY }, "uptime_seconds: not a finite number >= 0"],
      [{ bootId: "a\u0000" }, "boot_id: empty, too long, NUL or not UTF-8"],
      [{ agentVersion: "\ud800" }, "agent_version: too long, NUL or not UTF-8"],
      [{ at: new Date(Number.NaN) }, "at: not a date"],
      [{ instanceId: "nope" }, "instance_id: not a UUID"],
    ];
    for (const [bad, message] of cases) {
      await expect(writer.record({ ...base, ...bad })).rejects.toThrow(message);
    }
  });
});
