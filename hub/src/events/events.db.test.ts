import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createTestDb, quietLog } from "../../test/harness.ts";
import { fleetEvents } from "../db/schema/index.ts";
import { createEventLog } from "./event-log.ts";
import { listEvents } from "./query.ts";
import { pruneEvents } from "./retention.ts";

let db: Awaited<ReturnType<typeof createTestDb>>;
beforeAll(async () => {
  db = await createTestDb();
}, 30_000);
afterAll(async () => {
  await db.close();
});

const DAY = 86_400_000;

describe("event log", () => {
  test("emit stores and publishes to matching subscribers only", async () => {
    const log = createEventLog(db.db, quietLog);
    const got: string[] = [];
    const off = log.subscribe({ kindPrefix: "system.a." }, (e) => got.push(e.kind));
    await log.emit({ kind: "system.a.one", severity: "info" }, { x: 1 }, { correlationId: "c" });
    await log.emit({ kind: "system.b.one", severity: "info" }, {});
    off();
    await log.emit({ kind: "system.a.two", severity: "info" }, {});
    expect(got).toEqual(["system.a.one"]);
    expect(log.subscriberCount()).toBe(0);
    const rows = await listEvents(db.db, { kindPrefix: "system.a." });
    expect(rows.map((r) => [r.kind, r.correlationId])).toEqual([
      ["system.a.one", "c"],
      ["system.a.two", null],
    ]);
    await expect(log.emit({ kind: "Bad Kind", severity: "info" }, {})).rejects.toThrow(
      'event kind "Bad Kind" is not dotted lowercase',
    );
  });

  test("seq order is commit order: a writer waits while another transaction holds inserted events", async () => {
    const log = createEventLog(db.db, quietLog);
    let releaseA: () => void = () => {};
    const held = new Promise<void>((r) => {
      releaseA = r;
    });
    let aInserted: () => void = () => {};
    const inserted = new Promise<void>((r) => {
      aInserted = r;
    });
    const order: string[] = [];
    const a = db.db.transaction(async (tx) => {
      await log.insert(tx, [{ kind: "order.a", severity: "info", payload: {} }]);
      aInserted();
      await held;
      order.push("a commits");
    });
    await inserted;
    const b = log.emit({ kind: "order.b", severity: "info" }, {}).then(() => order.push("b stored"));
    await Bun.sleep(100); // b must not get past the lock while a holds it
    order.push("a released");
    releaseA();
    await Promise.all([a, b]);
    expect(order).toEqual(["a released", "a commits", "b stored"]);
    const rows = await listEvents(db.db, { kindPrefix: "order." });
    expect(rows.map((r) => r.kind)).toEqual(["order.a", "order.b"]);
  });

  test("retention: routine rows go after 90 days, critical after 365 (backdated rows)", async () => {
    const now = new Date("2027-06-01T00:00:00Z");
    const at = (days: number) => new Date(now.getTime() - days * DAY);
    await db.db.delete(fleetEvents);
    await db.db.insert(fleetEvents).values([
      { kind: "r.fresh", severity: "info", payload: {}, createdAt: at(89) },
      { kind: "r.old", severity: "info", payload: {}, createdAt: at(91) },
      { kind: "r.old.error", severity: "error", payload: {}, createdAt: at(200) },
      { kind: "c.kept", severity: "critical", payload: {}, createdAt: at(300) },
      { kind: "c.old", severity: "critical", payload: {}, createdAt: at(366) },
    ]);
    expect(await pruneEvents(db.db, now)).toEqual({ routine: 2, critical: 1 });
    const left = (await db.db.select({ kind: fleetEvents.kind }).from(fleetEvents)).map((r) => r.kind).sort();
    expect(left).toEqual(["c.kept", "r.fresh"]);
    expect(await pruneEvents(db.db, now)).toEqual({ routine: 0, critical: 0 });
  });
});
