import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startBackground } from "./background.ts";

const dir = mkdtempSync(join(tmpdir(), "pn-background-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Waits (up to 2 s) until the log file contains `text`. */
async function logShows(file: string, text: string): Promise<void> {
  const deadline = Date.now() + 2_000;
  while (!readFileSync(file, "utf8").includes(text)) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for "${text}" in ${file}`);
    await Bun.sleep(20);
  }
}

describe("startBackground", () => {
  test("output goes to the log file; stop sends the signal and reports it", async () => {
    const logFile = join(dir, "a.log");
    const p = startBackground("sh", ["-c", "echo ready; echo err >&2; exec sleep 30"], { logFile });
    expect(p.pid).toBeGreaterThan(0);
    expect(p.running()).toBe(true);
    await logShows(logFile, "err");
    expect(readFileSync(logFile, "utf8").split("\n").sort()).toEqual(["", "err", "ready"]);
    expect(await p.stop()).toEqual({ exitCode: undefined, signal: "SIGTERM" });
    expect(p.running()).toBe(false);
    expect(await p.stop()).toEqual({ exitCode: undefined, signal: "SIGTERM" });
  });

  test("a process that ignores the signal is killed after the deadline", async () => {
    const logFile = join(dir, "b.log");
    const p = startBackground("sh", ["-c", "trap '' TERM; echo armed; while :; do sleep 0.05; done"], {
      logFile,
    });
    await logShows(logFile, "armed");
    expect((await p.stop({ timeoutMs: 200 })).signal).toBe("SIGKILL");
  });

  test("an early exit is an ExecError with the exit code and the log tail", async () => {
    const logFile = join(dir, "c.log");
    const p = startBackground("sh", ["-c", "echo no such interface >&2; exit 2"], { logFile });
    const exit = await p.exited;
    expect(exit).toEqual({ exitCode: 2, signal: undefined });
    const err = p.failure(exit);
    expect(err.exitCode).toBe(2);
    expect(err.message).toContain("no such interface");
    expect(err.message).toStartWith("sh -c echo no such interface >&2; exit 2: exit 2: ");
  });
});
