import { describe, expect, test } from "bun:test";
import { parseBunTest, parseClosingLine, runSuite } from "./suite.ts";

describe("parsers", () => {
  test("bun test summary", () => {
    expect(parseBunTest(" 12 pass\n 3 fail\n 40 expect() calls\n")).toEqual({ passed: 12, failed: 3 });
    expect(parseBunTest("no summary here")).toBeUndefined();
  });
  test("closing line, last one wins, optional label", () => {
    expect(parseClosingLine("1 passed, 0 failed\nsmoke: 7 passed, 2 failed\n")).toEqual({
      passed: 7,
      failed: 2,
    });
    expect(parseClosingLine("passed")).toBeUndefined();
  });
});

describe("runSuite", () => {
  test("a crash with no counted failure still counts as one failure", async () => {
    const r = await runSuite({
      name: "crash",
      cmd: "sh",
      args: ["-c", "echo '3 passed, 0 failed'; exit 3"],
      timeoutMs: 10_000,
      parse: parseClosingLine,
    });
    expect({ passed: r.passed, failed: r.failed, note: r.note }).toEqual({
      passed: 3,
      failed: 1,
      note: "exit 3 with no failed test",
    });
  });
  test("a command without counts is one check decided by its exit code", async () => {
    const ok = await runSuite({ name: "ok", cmd: "true", args: [], timeoutMs: 10_000 });
    const bad = await runSuite({ name: "bad", cmd: "false", args: [], timeoutMs: 10_000 });
    expect([ok.passed, ok.failed, bad.passed, bad.failed]).toEqual([1, 0, 0, 1]);
  });
  test("a timeout fails", async () => {
    const r = await runSuite({ name: "slow", cmd: "sleep", args: ["5"], timeoutMs: 200 });
    expect(r.failed).toBe(1);
    expect(r.note).toContain("timed out");
  });
});
