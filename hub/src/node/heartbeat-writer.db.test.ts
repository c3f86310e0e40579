import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { createTestDb, quietLog } from "../../test/harness.ts";
import { fleetEvents, instances } from "../db/schema/index.ts";
import { createEventLog } from "../events/event-log.ts";
import { createHeartbeatWriter } from "./heartbeat-writer.ts";

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
});
