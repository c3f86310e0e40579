import { expect, test } from "bun:test";
import { appendBootstrapEvent, MAX_BOOTSTRAP_EVENTS } from "./bootstrap-events.ts";

test("the bootstrap log keeps the last 50 steps, oldest first", () => {
  let log = appendBootstrapEvent([], { at: new Date(0), phase: "create", status: "ok", message: "m0" });
  expect(log).toEqual([{ ts: "1970-01-01T00:00:00.000Z", phase: "create", status: "ok", message: "m0" }]);
  for (let i = 1; i <= 60; i++)
    log = appendBootstrapEvent(log, {
      at: new Date(i * 1000),
      phase: "bootstrap",
      status: "ok",
      message: `m${i}`,
    });
  expect(log).toHaveLength(MAX_BOOTSTRAP_EVENTS);
  expect(log[0]?.message).toBe("m11");
  expect(log.at(-1)?.message).toBe("m60");
});
