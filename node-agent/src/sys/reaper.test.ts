import { expect, test } from "bun:test";
import { join } from "node:path";
import { createExeca } from "./exec.ts";

test("the reaper reaps an orphaned grandchild (as a child subreaper) and leaves Bun's own children alone", async () => {
  const fixture = join(import.meta.dir, "../../test/reaper-fixture.ts");
  const r = await createExeca().run(process.execPath, [fixture], { timeoutMs: 20_000 });
  const steps = r.stdout
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  expect(steps[0]).toMatchObject({ step: "zombie", zombies: 1 });
  expect(steps[1]).toEqual({ step: "reaped", reaped: 1, zombies: 0 });
  expect(steps[2]).toEqual({ step: "own-children", exitCode: 3, stdout: "fine", zombies: 0 });
}, 30_000);
