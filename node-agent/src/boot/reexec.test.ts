/**
 * The re-exec orchestration with a recording execve: on an AgentReexec request the controllers stop,
 * then the module set, then the handoff is written and execve called with the target; a failing
 * execve records the build as failed and executes the running binary again. The handoff is read once.
 */
import { expect, test } from "bun:test";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startTestEngine } from "../../test/engine-harness.ts";
import { createUpdateRecords } from "../controllers/agent-update/update-records.ts";
import type { ModuleSet } from "../controllers/modules/module-set.ts";
import { AgentReexec } from "../controllers/resources.ts";
import { createMemoryLog } from "../log.ts";
import type { Controller } from "../runtime/controller.ts";
import { type Handoff, takeHandoff, watchForReexec, writeHandoff } from "./reexec.ts";

const handoff: Handoff = {
  bootId: "b-1",
  spawned: 7,
  from: { version: "1.0.0", path: "/powernode-agent" },
  state: {
    identity: { instanceUuid: "u", bootstrapToken: "t", platformUrl: "https://hub:8443", caPem: "pem" },
    stateDir: "/run/powernode",
    persistent: false,
  },
};

test("the handoff is read once and removed; a torn one is ignored", () => {
  const path = join(mkdtempSync(join(tmpdir(), "handoff-")), "handoff.json");
  writeHandoff(path, handoff);
  expect(takeHandoff(path)).toEqual(handoff);
  expect(existsSync(path)).toBe(false);
  expect(takeHandoff(path)).toBeUndefined();
  require("node:fs").writeFileSync(path, "{");
  expect(takeHandoff(path)).toBeUndefined();
});

function requester(): Controller {
  return {
    name: "requester",
    inputs: [],
    outputs: [AgentReexec],
    async run(ctx) {
      ctx.set(AgentReexec, "node", {
        path: "/run/new",
        version: "2.0.0",
        sha256: "d".repeat(64),
        why: "update",
      });
      while (!ctx.signal.aborted) await ctx.changed();
      order.push("controller stopped");
    },
  };
}
const order: string[] = [];

test("controllers stop, then modules, then execve into the target; a failed execve restarts this binary", async () => {
  const dir = mkdtempSync(join(tmpdir(), "reexec-"));
  const handoffPath = join(dir, "handoff.json");
  const engine = startTestEngine([requester()]);
  const calls: string[] = [];
  const modules = { stop: async () => void order.push("modules stopped") } as unknown as ModuleSet;
  const done = Promise.withResolvers<void>();
  watchForReexec({
    engine,
    modules,
    log: createMemoryLog(),
    self: "/powernode-agent",
    dir,
    handoffPath,
    handoff: () => handoff,
    execve: (path) => {
      calls.push(path);
      order.push(`execve ${path} (handoff ${existsSync(handoffPath) ? "written" : "missing"})`);
      throw new Error(`execve ${path}: ENOEXEC (errno 8)`);
    },
    fatal: (e) => {
      order.push(`fatal: ${String(e)}`);
      done.resolve();
    },
  });
  await done.promise;
  expect(order).toEqual([
    "controller stopped",
    "modules stopped",
    "execve /run/new (handoff written)",
    "execve /powernode-agent (handoff written)",
    "fatal: Error: execve /powernode-agent: ENOEXEC (errno 8)",
  ]);
  expect(createUpdateRecords(dir).failed()).toEqual({
    version: "2.0.0",
    sha256: "d".repeat(64),
    reason: "execve: execve /run/new: ENOEXEC (errno 8)",
  });
});
