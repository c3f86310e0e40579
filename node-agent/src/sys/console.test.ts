import { afterEach, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createConsoleSink } from "./console.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

test("the sink writes console lines and kmsg records, and never creates a missing device file", () => {
  const dev = mkdtempSync(join(tmpdir(), "pn-dev-"));
  dirs.push(dev);
  writeFileSync(join(dev, "console"), "");
  const sink = createConsoleSink(dev);
  sink("info", "powernode-agent: before devtmpfs");
  // No kmsg yet: it must not have been created as a plain file.
  expect(existsSync(join(dev, "kmsg"))).toBe(false);
  writeFileSync(join(dev, "kmsg"), "");
  sink("error", "powernode-agent: error: after");
  expect(readFileSync(join(dev, "console"), "utf8")).toBe(
    "powernode-agent: before devtmpfs\npowernode-agent: error: after\n",
  );
  expect(readFileSync(join(dev, "kmsg"), "utf8")).toBe("<3>powernode-agent: error: after");
});
