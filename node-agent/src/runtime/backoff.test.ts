import { expect, test } from "bun:test";
import { createBackoff } from "./backoff.ts";

test("doubles from the initial delay up to the cap, and reset starts over", () => {
  const b = createBackoff({ initialMs: 1000, maxMs: 30_000, random: () => 0 });
  expect(Array.from({ length: 8 }, () => b.next())).toEqual([
    1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000,
  ]);
  expect(b.attempts()).toBe(8);
  b.reset();
  expect(b.next()).toBe(1000);
});

test("jitter only shortens a delay, never past the cap", () => {
  const high = createBackoff({ initialMs: 100, maxMs: 400, jitter: 0.25, random: () => 0.999999 });
  expect(Array.from({ length: 4 }, () => high.next())).toEqual([75, 150, 300, 300]);
  const b = createBackoff({ initialMs: 100, maxMs: 400 });
  for (let i = 0; i < 50; i++) {
    const d = b.next();
    expect(d).toBeLessThanOrEqual(400);
    expect(d).toBeGreaterThanOrEqual(i < 2 ? 75 * 2 ** i : 300);
  }
});
