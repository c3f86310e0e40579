/**
 * The agent-update controller on a real directory, with a fake download and preflight (the real
 * ones are in sys/agent-binary.test.ts; the whole update runs on a QEMU node in smokes/pass1 single):
 * a new build is staged, tried and handed to the owner as AgentReexec with a trial record; a refused
 * build is reported and never retried; a hub away is retried; after the re-exec the trial passes with
 * a heartbeat or rolls back to the previous binary.
 */
import { expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { type AgentSection, DesiredStateSchema } from "@powernode/proto";
import { assertResource, startTestEngine } from "../../../test/engine-harness.ts";
import { ControllerStatus } from "../../runtime/engine.ts";
import type { AgentDeps } from "../deps.ts";
import { AgentReexec, AgentUpdateStatus, DesiredNodeState, HeartbeatStatus } from "../resources.ts";
import { type AgentUpdateOs, agentUpdateController, BuildRefused } from "./agent-update-controller.ts";
import { createUpdateRecords } from "./update-records.ts";

const SHA = "c".repeat(64);
const section = (version: string, sha256 = SHA): AgentSection =>
  ({
    version,
    sha256,
    size: 4n,
    url: `https://hub:8443/v2/powernode/agent/blobs/sha256:${sha256}`,
  }) as AgentSection;

function setup(o: {
  running?: string;
  want?: AgentSection;
  acked?: number;
  preflight?: (path: string) => Promise<string>;
  download?: (dest: string) => Promise<void>;
}) {
  const dir = join(mkdtempSync(join(tmpdir(), "agent-update-")), "agent");
  const calls = { download: 0, preflight: 0 };
  const controller = agentUpdateController({
    agentVersion: o.running ?? "1.0.0",
    backoff: { initialMs: 10, maxMs: 20 },
    agentUpdate: {
      dir,
      self: "/powernode-agent",
      pid: 1,
      gateMs: 300,
      download: async (_s: AgentSection, dest: string) => {
        calls.download++;
        if (o.download) return o.download(dest);
        writeFileSync(dest, "new!");
      },
      preflight: async (path: string) => {
        calls.preflight++;
        return o.preflight ? o.preflight(path) : (o.want?.version ?? "");
      },
    },
  } as unknown as AgentDeps & { agentUpdate: AgentUpdateOs });
  const engine = startTestEngine(
    [controller],
    [
      {
        type: DesiredNodeState,
        id: "node",
        spec: create(DesiredStateSchema, { version: 1n, agent: o.want }),
      },
      {
        type: HeartbeatStatus,
        id: "node",
        spec: { acked: o.acked ?? 0, intervalSeconds: 5, hubDesiredVersion: 1n, recoveries: 0 },
      },
    ],
  );
  return {
    dir,
    calls,
    engine,
    records: createUpdateRecords(dir),
    [Symbol.asyncDispose]: async () => {
      await engine.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

test("nothing assigned, or the running version: no download, condition Current, the pid reported", async () => {
  await using t = setup({ want: section("1.0.0") });
  await assertResource(t.engine, ControllerStatus, "agent-update", (c) => c.reason === "Current");
  expect(t.engine.store.get(AgentUpdateStatus, "node")?.spec).toEqual({ pid: 1 });
  expect(t.calls).toEqual({ download: 0, preflight: 0 });
  expect(t.engine.store.get(AgentReexec, "node")).toBeUndefined();
});

test("a new build is staged, preflighted, recorded as a trial and handed over for the re-exec", async () => {
  await using t = setup({ want: section("2.0.0") });
  const req = await assertResource(t.engine, AgentReexec, "node", () => true);
  expect(req).toEqual({ path: join(t.dir, SHA), version: "2.0.0", sha256: SHA, why: "update" });
  expect(readFileSync(join(t.dir, SHA), "utf8")).toBe("new!");
  expect(t.records.trial()).toEqual({
    version: "2.0.0",
    sha256: SHA,
    previous: "/powernode-agent",
    previousVersion: "1.0.0",
  });
});

test("a build that fails its preflight is reported, removed and not tried again", async () => {
  await using t = setup({
    want: section("2.0.0"),
    preflight: async () => {
      throw new BuildRefused("preflight: exited with code 70");
    },
  });
  const s = await assertResource(t.engine, AgentUpdateStatus, "node", (s) => s.failed !== undefined);
  expect(s?.failed).toEqual({ version: "2.0.0", sha256: SHA, reason: "preflight: exited with code 70" });
  expect(t.records.failed()).toEqual(s?.failed);
  expect(existsSync(join(t.dir, SHA))).toBe(false);
  await assertResource(t.engine, ControllerStatus, "agent-update", (c) => c.reason === "Refused");
  // A new desired-state version with the same build: still not retried.
  t.engine.store.set(
    DesiredNodeState,
    "node",
    create(DesiredStateSchema, { version: 2n, agent: section("2.0.0") }),
  );
  await Bun.sleep(50);
  expect(t.calls.preflight).toBe(1);
  expect(t.engine.store.get(AgentReexec, "node")).toBeUndefined();
});

test("a build reporting another version than the hub names is refused", async () => {
  await using t = setup({ want: section("2.0.0"), preflight: async () => "1.9.9" });
  const s = await assertResource(t.engine, AgentUpdateStatus, "node", (s) => s.failed !== undefined);
  expect(s?.failed?.reason).toBe('preflight: the build reports version "1.9.9", not 2.0.0');
});

test("a hub that is away is retried, not held against the build", async () => {
  let n = 0;
  await using t = setup({
    want: section("2.0.0"),
    download: async (dest) => {
      if (++n < 3) throw new Error("connect ECONNREFUSED");
      writeFileSync(dest, "new!");
    },
  });
  await assertResource(t.engine, AgentReexec, "node", (r) => r.why === "update");
  expect(t.calls.download).toBe(3);
  expect(t.records.failed()).toBeUndefined();
});

test("after the re-exec: an acknowledged heartbeat confirms the trial", async () => {
  const dir = mkdtempSync(join(tmpdir(), "agent-trial-"));
  createUpdateRecords(dir).writeTrial({
    version: "2.0.0",
    sha256: SHA,
    previous: "/old",
    previousVersion: "1.0.0",
  });
  const controller = agentUpdateController({
    agentVersion: "2.0.0",
    backoff: {},
    agentUpdate: {
      dir,
      self: "/new",
      pid: 1,
      gateMs: 300,
      download: async () => {},
      preflight: async () => "",
    },
  } as unknown as AgentDeps & { agentUpdate: AgentUpdateOs });
  await using e = startTestEngine(
    [controller],
    [
      { type: DesiredNodeState, id: "node", spec: create(DesiredStateSchema, { agent: section("2.0.0") }) },
      {
        type: HeartbeatStatus,
        id: "node",
        spec: { acked: 1, intervalSeconds: 5, hubDesiredVersion: 1n, recoveries: 0 },
      },
    ],
  );
  await assertResource(e, ControllerStatus, "agent-update", (c) => c.reason === "Current");
  expect(createUpdateRecords(dir).trial()).toBeUndefined();
  expect(e.store.get(AgentReexec, "node")).toBeUndefined();
  rmSync(dir, { recursive: true, force: true });
});

test("after the re-exec: no heartbeat within the gate rolls back to the previous binary", async () => {
  const dir = mkdtempSync(join(tmpdir(), "agent-trial-"));
  createUpdateRecords(dir).writeTrial({
    version: "2.0.0",
    sha256: SHA,
    previous: "/old",
    previousVersion: "1.0.0",
  });
  const controller = agentUpdateController({
    agentVersion: "2.0.0",
    backoff: {},
    agentUpdate: {
      dir,
      self: "/new",
      pid: 1,
      gateMs: 200,
      download: async () => {},
      preflight: async () => "",
    },
  } as unknown as AgentDeps & { agentUpdate: AgentUpdateOs });
  await using e = startTestEngine(
    [controller],
    [
      { type: DesiredNodeState, id: "node", spec: create(DesiredStateSchema, { agent: section("2.0.0") }) },
      {
        type: HeartbeatStatus,
        id: "node",
        spec: { acked: 0, intervalSeconds: 5, hubDesiredVersion: 1n, recoveries: 0 },
      },
    ],
  );
  const req = await assertResource(e, AgentReexec, "node", () => true);
  expect(req).toEqual({ path: "/old", version: "1.0.0", sha256: "", why: "rollback" });
  const records = createUpdateRecords(dir);
  expect(records.trial()).toBeUndefined();
  expect(records.failed()).toEqual({
    version: "2.0.0",
    sha256: SHA,
    reason: "no heartbeat within 0.2 s after the re-exec: rolled back to 1.0.0",
  });
  // The previous agent, back, reports the failure and does not try the build again.
  await e.stop();
  let tried = 0;
  const back = agentUpdateController({
    agentVersion: "1.0.0",
    backoff: {},
    agentUpdate: {
      dir,
      self: "/old",
      pid: 1,
      download: async () => {
        tried++;
      },
      preflight: async () => "2.0.0",
    },
  } as unknown as AgentDeps & { agentUpdate: AgentUpdateOs });
  await using e2 = startTestEngine(
    [back],
    [
      { type: DesiredNodeState, id: "node", spec: create(DesiredStateSchema, { agent: section("2.0.0") }) },
      {
        type: HeartbeatStatus,
        id: "node",
        spec: { acked: 1, intervalSeconds: 5, hubDesiredVersion: 1n, recoveries: 0 },
      },
    ],
  );
  const s = await assertResource(e2, AgentUpdateStatus, "node", (s) => s.failed !== undefined);
  expect(s?.failed?.reason).toContain("rolled back to 1.0.0");
  await assertResource(e2, ControllerStatus, "agent-update", (c) => c.reason === "Refused");
  expect(tried).toBe(0);
  rmSync(dir, { recursive: true, force: true });
});
