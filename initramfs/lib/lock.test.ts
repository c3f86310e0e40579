import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { withLock } from "./lock.ts";

const dir = mkdtempSync(join(tmpdir(), "lock-test-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("holders run one at a time; the second is told it waits", async () => {
  const path = join(dir, "a.lock");
  const trace: string[] = [];
  const waited: string[] = [];
  let release: () => void = () => {};
  const first = withLock(
    path,
    5_000,
    () => {},
    async () => {
      trace.push("1 in");
      await new Promise<void>((r) => {
        release = r;
      });
      trace.push("1 out");
    },
  );
  const second = withLock(
    path,
    5_000,
    (o) => waited.push(o),
    async () => trace.push("2 in"),
  );
  await new Promise((r) => setTimeout(r, 50));
  release();
  await Promise.all([first, second]);
  expect(trace).toEqual(["1 in", "1 out", "2 in"]);
  expect(waited).toEqual([String(process.pid)]);
});

test("a lock left by a dead process is taken over", async () => {
  const path = join(dir, "b.lock");
  writeFileSync(path, "2147483646"); // no such pid
  expect(
    await withLock(
      path,
      2_000,
      () => {},
      async () => "ran",
    ),
  ).toBe("ran");
});
