/** Event lists are bounded by bytes as well as by count: large payloads cannot make one answer huge. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createTestDb, quietLog } from "../../test/harness.ts";
import { createEventLog } from "./event-log.ts";
import { listEvents, MAX_PAGE_BYTES } from "./query.ts";

let db: Awaited<ReturnType<typeof createTestDb>>;
beforeAll(async () => {
  db = await createTestDb();
}, 30_000);
afterAll(async () => {
  await db.close();
});

describe("listEvents by bytes", () => {
  test("100 events of 60 KiB: the newest that fit in 4 MiB, oldest first; small events still come 1000 at a time", async () => {
    const log = createEventLog(db.db, quietLog);
    const blob = "x".repeat(60 * 1024);
    for (let batch = 0; batch < 4; batch++) {
      await log.emitMany(
        Array.from({ length: 25 }, (_, i) => ({
          kind: "test.big.payload",
          severity: "info" as const,
          payload: { n: batch * 25 + i, blob },
        })),
      );
    }
    const page = await listEvents(db.db, { kindPrefix: "test.big.", limit: 1000 });
    const bytes = page.reduce((sum, e) => sum + JSON.stringify(e.payload).length, 0);
    console.log(`a page of 60 KiB events: ${page.length} of 100, ${bytes} payload bytes`);
    expect(page.length).toBeGreaterThan(50);
    expect(page.length).toBeLessThan(100);
    expect(bytes).toBeLessThanOrEqual(MAX_PAGE_BYTES);
    const ns = page.map((e) => e.payload.n as number);
    expect(ns).toEqual(Array.from({ length: page.length }, (_, i) => 100 - page.length + i));

    // A budget smaller than one event still answers the newest one.
    const one = await listEvents(db.db, { kindPrefix: "test.big.", maxBytes: 10 });
    expect(one.map((e) => e.payload.n)).toEqual([99]);

    await log.emitMany(
      Array.from({ length: 1000 }, (_, i) => ({
        kind: "test.small.one",
        severity: "info" as const,
        payload: { i },
      })),
    );
    expect(await listEvents(db.db, { kindPrefix: "test.small.", limit: 1000 })).toHaveLength(1000);
  });
});
