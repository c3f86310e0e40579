/**
 * Agent rollouts over the real API, with nodes faked through real heartbeats on the mTLS listener: a
 * template's nodes update one at a time (the next is assigned only after the previous reports the
 * version); a refused build fails the rollout and leaves later nodes untouched; max_failures, abort,
 * nodes already on the build or offline, the step timeout, bad input, and a rollout resumed by a
 * restarted hub.
 */
import "reflect-metadata";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code, createClient } from "@connectrpc/connect";
import {
  AGENT_ARTIFACT_TYPE,
  AGENT_BINARY_MEDIA_TYPE,
  AGENT_CONFIG_MEDIA_TYPE,
  pushArtifact,
} from "@powernode/oci";
import {
  AgentService,
  Arch,
  FleetService,
  NodeService,
  ProvisionService,
  AgentRolloutState as RS,
  AgentRolloutStepState as SS,
} from "@powernode/proto";
import {
  createTestDb,
  enrollTestNode,
  nodeTransport,
  operatorClient,
  refusalOf,
  startTestHub,
  waitFor,
} from "../../test/harness.ts";
import { getDesiredState } from "../desired-state/index.ts";
import type { RunningHub } from "../hub.ts";
import { AGENT_REPOSITORY, agentTag } from "./builds.ts";
import { advanceRollout } from "./rollout-advance.ts";

const dir = mkdtempSync(join(tmpdir(), "agent-rollouts-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Pushes and registers an agent build; returns its sha256. */
async function publish(hub: RunningHub, version: string, arch: "amd64" | "arm64" = "amd64") {
  const bytes = Buffer.from(`#!fake agent ${version} ${arch} ${crypto.randomUUID()}\n`);
  const path = join(dir, `${version}-${arch}-${crypto.randomUUID()}`);
  writeFileSync(path, bytes);
  const sha256 = createHash("sha256").update(bytes).digest("hex");
  const cfg = { version, arch, sha256, size: bytes.length };
  const manifestDigest = await pushArtifact(
    hub.httpUrl,
    AGENT_REPOSITORY,
    agentTag(version, arch),
    {
      artifactType: AGENT_ARTIFACT_TYPE,
      config: { mediaType: AGENT_CONFIG_MEDIA_TYPE, bytes: new TextEncoder().encode(JSON.stringify(cfg)) },
      layers: [{ mediaType: AGENT_BINARY_MEDIA_TYPE, path }],
    },
    { token: hub.adminToken },
  );
  await operatorClient(hub, AgentService).registerAgentBuild({
    version,
    arch: arch === "arm64" ? Arch.ARM64 : Arch.AMD64,
    manifestDigest,
  });
  return sha256;
}

interface FakeNode {
  id: string;
  cert: { certPem: string; keyPem: string };
  /** A heartbeat reporting `version` (and a refused build when given). */
  beat(hub: RunningHub, version: string, refused?: { sha256: string; reason: string }): Promise<void>;
}

/** An instance of `template` (provider none), enrolled; `online` sends a first heartbeat on 1.0.0. */
async function node(hub: RunningHub, name: string, template: string, online = true): Promise<FakeNode> {
  const { id, certPem, keyPem } = await enrollTestNode(hub, name, { template, agentVersion: "1.0.0" });
  const cert = { certPem, keyPem };
  const n: FakeNode = {
    id,
    cert,
    async beat(h, version, refused) {
      await createClient(NodeService, nodeTransport(h, cert)).heartbeat({
        bootId: "boot-1",
        agentVersion: version,
        agentUpdate: {
          pid: 1,
          failedVersion: refused ? "5.0.0" : "",
          failedSha256: refused?.sha256 ?? "",
          failedReason: refused?.reason ?? "",
        },
      });
    },
  };
  if (online) await n.beat(hub, "1.0.0");
  return n;
}

/** A template with `count` online nodes named `<name>-1..n`. */
async function fleet(hub: RunningHub, name: string, count: number): Promise<FakeNode[]> {
  await operatorClient(hub, ProvisionService).createTemplate({ name, modules: [] });
  const out: FakeNode[] = [];
  for (let i = 1; i <= count; i++) out.push(await node(hub, `${name}-${i}`, name));
  return out;
}

const desiredAgent = async (hub: RunningHub, n: FakeNode) =>
  (await getDesiredState(hub.deps.db, n.id)).agent?.version ?? "";

const refusal = refusalOf;

describe("agent rollouts", () => {
  let hub: RunningHub;
  let sha: string;
  const agents = () => operatorClient(hub, AgentService);
  const status = async (id: string) => (await agents().getAgentRollout({ id })).rollout;
  const states = async (id: string) => (await status(id))?.steps.map((s) => s.state);
  beforeAll(async () => {
    hub = await startTestHub();
    sha = await publish(hub, "5.0.0");
  }, 30_000);
  afterAll(async () => {
    await hub.stop();
  });

  test("a 3-node template rolls node by node: the next is assigned only after the previous reports", async () => {
    const [a1, a2, a3] = await fleet(hub, "roll-a", 3);
    if (!a1 || !a2 || !a3) throw new Error("fleet");
    const started = (await agents().startAgentRollout({ template: "roll-a", version: "5.0.0" })).rollout;
    const id = started?.id ?? "";
    expect(started?.state).toBe(RS.RUNNING);
    expect(started?.steps.map((s) => s.nodeName)).toEqual(["roll-a-1", "roll-a-2", "roll-a-3"]);
    expect(started?.steps.map((s) => s.state)).toEqual([SS.UPDATING, SS.PENDING, SS.PENDING]);
    expect(started?.steps[0]?.fromVersion).toBe("1.0.0");
    expect([await desiredAgent(hub, a1), await desiredAgent(hub, a2)]).toEqual(["5.0.0", ""]);

    // Ticks and unrelated heartbeats do not move it while node 1 has not reported the version.
    await hub.scheduler.runNow("agent-rollouts");
    await a2.beat(hub, "1.0.0");
    await a1.beat(hub, "1.0.0");
    expect(await states(id)).toEqual([SS.UPDATING, SS.PENDING, SS.PENDING]);
    expect(await desiredAgent(hub, a2)).toBe("");

    // Node 1 reports 5.0.0: its heartbeat advances the rollout to node 2, not node 3.
    await a1.beat(hub, "5.0.0");
    expect(await states(id)).toEqual([SS.UPDATED, SS.UPDATING, SS.PENDING]);
    expect([await desiredAgent(hub, a2), await desiredAgent(hub, a3)]).toEqual(["5.0.0", ""]);

    // Many advancers at once (as several hubs would be) still take node 2's step once and not node 3's.
    await Promise.all(Array.from({ length: 6 }, () => advanceRollout(hub.deps, id)));
    expect(await desiredAgent(hub, a3)).toBe("");

    await a2.beat(hub, "5.0.0");
    expect(await desiredAgent(hub, a3)).toBe("5.0.0");
    await a3.beat(hub, "5.0.0");
    const done = await status(id);
    expect(done?.state).toBe(RS.SUCCEEDED);
    expect(done?.steps.map((s) => s.state)).toEqual([SS.UPDATED, SS.UPDATED, SS.UPDATED]);
    expect(done?.finishedAt).toBeDefined();

    const events = async (kindPrefix: string) =>
      (await operatorClient(hub, FleetService).listEvents({ kindPrefix, limit: 100 })).events.filter(
        (e) => e.payload?.rolloutId === id,
      );
    expect(await events("system.agent.rollout_started")).toHaveLength(1);
    const steps = await events("system.agent.rollout_step");
    expect(steps.map((e) => `${e.payload?.node}:${e.payload?.state}`).sort()).toEqual(
      [
        "roll-a-1:updating",
        "roll-a-1:updated",
        "roll-a-2:updating",
        "roll-a-2:updated",
        "roll-a-3:updating",
        "roll-a-3:updated",
      ].sort(),
    );
    const finished = await events("system.agent.rollout_finished");
    expect(finished.map((e) => e.payload?.state)).toEqual(["succeeded"]);
  });

  test("a refused build fails the rollout and leaves node 3 untouched", async () => {
    const [b1, b2, b3] = await fleet(hub, "roll-b", 3);
    if (!b1 || !b2 || !b3) throw new Error("fleet");
    const id = (await agents().startAgentRollout({ template: "roll-b", version: "5.0.0" })).rollout?.id ?? "";
    await b1.beat(hub, "5.0.0");
    await b2.beat(hub, "1.0.0", { sha256: sha, reason: "preflight: exited with code 70" });
    const r = await status(id);
    expect(r?.state).toBe(RS.FAILED);
    expect(r?.failures).toBe(1);
    expect(r?.steps.map((s) => s.state)).toEqual([SS.UPDATED, SS.FAILED, SS.PENDING]);
    expect(r?.steps[1]?.error).toContain("preflight: exited with code 70");
    expect(r?.error).toContain("node roll-b-2");
    await hub.scheduler.runNow("agent-rollouts");
    expect(await desiredAgent(hub, b3)).toBe("");
    expect((await status(id))?.steps[2]?.state).toBe(SS.PENDING);
  });

  test("max_failures tolerates failures: the rollout goes on and succeeds", async () => {
    const [c1, c2] = await fleet(hub, "roll-c", 2);
    if (!c1 || !c2) throw new Error("fleet");
    const id =
      (await agents().startAgentRollout({ template: "roll-c", version: "5.0.0", maxFailures: 1 })).rollout
        ?.id ?? "";
    await c1.beat(hub, "1.0.0", { sha256: sha, reason: "preflight: exited with code 1" });
    expect(await states(id)).toEqual([SS.FAILED, SS.UPDATING]);
    await c2.beat(hub, "5.0.0");
    const r = await status(id);
    expect([r?.state, r?.failures]).toEqual([RS.SUCCEEDED, 1]);

    // The node that refused it fails a new rollout at once (it does not retry a refused build).
    const again = (await agents().startAgentRollout({ template: "roll-c", version: "5.0.0" })).rollout;
    expect(again?.state).toBe(RS.FAILED);
    expect(again?.steps[0]?.error).toContain("refused 5.0.0 before");
  });

  test("abort stops further assignments; the updating node keeps its assignment", async () => {
    const [d1, d2] = await fleet(hub, "roll-d", 2);
    if (!d1 || !d2) throw new Error("fleet");
    const id = (await agents().startAgentRollout({ template: "roll-d", version: "5.0.0" })).rollout?.id ?? "";
    const aborted = (await agents().abortAgentRollout({ id })).rollout;
    expect(aborted?.state).toBe(RS.ABORTED);
    expect(aborted?.steps.map((s) => s.state)).toEqual([SS.SKIPPED, SS.PENDING]);
    expect(aborted?.steps[0]?.error).toContain("aborted");
    await d1.beat(hub, "5.0.0");
    await hub.scheduler.runNow("agent-rollouts");
    expect([await desiredAgent(hub, d1), await desiredAgent(hub, d2)]).toEqual(["5.0.0", ""]);
    expect((await status(id))?.state).toBe(RS.ABORTED);
    expect(await refusal(agents().abortAgentRollout({ id }))).toMatchObject({
      code: Code.FailedPrecondition,
      message: expect.stringContaining("is aborted, not running"),
    });
    // The template is free for a new rollout: node 1 is on the build now and skipped.
    const next = (await agents().startAgentRollout({ template: "roll-d", version: "5.0.0" })).rollout;
    expect(next?.steps.map((s) => s.state)).toEqual([SS.SKIPPED, SS.UPDATING]);
  });

  test("nodes already on the build and offline nodes are skipped", async () => {
    await operatorClient(hub, ProvisionService).createTemplate({ name: "roll-e", modules: [] });
    const e1 = await node(hub, "roll-e-1", "roll-e");
    const e2 = await node(hub, "roll-e-2", "roll-e");
    await node(hub, "roll-e-3", "roll-e", false); // enrolled, never heartbeated
    await e1.beat(hub, "5.0.0");
    const r = (await agents().startAgentRollout({ template: "roll-e", version: "5.0.0" })).rollout;
    const id = r?.id ?? "";
    expect(r?.steps.map((s) => s.state)).toEqual([SS.SKIPPED, SS.UPDATING, SS.PENDING]);
    expect(r?.steps[0]?.error).toBe("already runs 5.0.0");
    await e2.beat(hub, "5.0.0");
    const done = await status(id);
    expect(done?.state).toBe(RS.SUCCEEDED);
    expect(done?.steps.map((s) => s.state)).toEqual([SS.SKIPPED, SS.UPDATED, SS.SKIPPED]);
    expect(done?.steps[2]?.error).toContain("offline");
  });

  test("a node that does not report the version within the step timeout fails its step", async () => {
    await fleet(hub, "roll-g", 1);
    const r = (
      await agents().startAgentRollout({ template: "roll-g", version: "5.0.0", stepTimeoutSeconds: 1 })
    ).rollout;
    expect(r?.stepTimeoutSeconds).toBe(1);
    const failed = await waitFor("the step to time out", async () => {
      await hub.scheduler.runNow("agent-rollouts");
      const s = await status(r?.id ?? "");
      return s?.state === RS.FAILED ? s : undefined;
    });
    expect(failed.steps[0]?.error).toContain("within 1 s");
  });

  test("bad input is refused naming the field", async () => {
    await fleet(hub, "roll-f", 1);
    const tpl = (await operatorClient(hub, ProvisionService).listTemplates({})).templates.find(
      (t) => t.name === "roll-f",
    );
    const start = (template: string, version: string, extra = {}) =>
      refusal(agents().startAgentRollout({ template, version, ...extra }));
    expect(await start("no-such", "5.0.0")).toMatchObject({
      code: Code.NotFound,
      message: expect.stringContaining("template: no template"),
    });
    expect(await start("", "5.0.0")).toMatchObject({
      code: Code.InvalidArgument,
      message: "template: required (a template's id or name)",
    });
    expect(await start("roll-f", "9.9.9")).toMatchObject({
      code: Code.NotFound,
      message: expect.stringContaining("version: no agent build 9.9.9"),
    });
    expect(await start("roll-f", "bad version")).toMatchObject({ code: Code.InvalidArgument });
    expect(await start("roll-f", "5.0.0", { stepTimeoutSeconds: 100_000 })).toMatchObject({
      code: Code.InvalidArgument,
      message: expect.stringContaining("step_timeout_seconds:"),
    });

    // An arm64 node with no arm64 build: refused, nothing recorded.
    await operatorClient(hub, ProvisionService).createInstance({
      name: "roll-f-arm",
      arch: Arch.ARM64,
      provider: "none",
      template: "roll-f",
    });
    expect(await start("roll-f", "5.0.0")).toMatchObject({
      code: Code.FailedPrecondition,
      message: expect.stringContaining("no agent build 5.0.0 for arm64"),
    });
    await operatorClient(hub, ProvisionService).createTemplate({ name: "roll-empty", modules: [] });
    expect(await start("roll-empty", "5.0.0")).toMatchObject({
      code: Code.FailedPrecondition,
      message: expect.stringContaining("has no nodes"),
    });

    // With an arm64 build the template (by id) rolls; a second rollout on it is refused.
    await publish(hub, "5.0.0", "arm64");
    const first = (await agents().startAgentRollout({ template: tpl?.id ?? "", version: "5.0.0" })).rollout;
    expect(first?.templateName).toBe("roll-f");
    expect(await start("roll-f", "5.0.0")).toMatchObject({
      code: Code.AlreadyExists,
      message: expect.stringContaining(`has a running rollout ${first?.id}`),
    });

    expect(await refusal(agents().getAgentRollout({ id: "x" }))).toMatchObject({
      code: Code.InvalidArgument,
      message: "id: not a UUID",
    });
    expect(await refusal(agents().getAgentRollout({ id: crypto.randomUUID() }))).toMatchObject({
      code: Code.NotFound,
    });
    const listed = (await agents().listAgentRollouts({ template: "roll-f" })).rollouts;
    expect(listed.map((r) => r.id)).toEqual([first?.id ?? ""]);
  });
});

describe("agent rollouts across a hub restart", () => {
  test("a running rollout is resumed by the next hub on the same database", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "agent-rollouts-restart-"));
    // PGlite in the data dir, or one PostgreSQL database both hubs use.
    const pg = process.env.TEST_DATABASE_URL ? await createTestDb() : undefined;
    const opts = { dataDir, databaseUrl: pg?.url };
    try {
      const first = await startTestHub(opts);
      await publish(first, "5.0.0");
      const [n1, n2] = await fleet(first, "roll-r", 2);
      if (!n1 || !n2) throw new Error("fleet");
      const id =
        (
          await operatorClient(first, AgentService).startAgentRollout({
            template: "roll-r",
            version: "5.0.0",
          })
        ).rollout?.id ?? "";
      await first.stop();

      const second = await startTestHub(opts);
      try {
        const agents = operatorClient(second, AgentService);
        expect((await agents.getAgentRollout({ id })).rollout?.steps.map((s) => s.state)).toEqual([
          SS.UPDATING,
          SS.PENDING,
        ]);
        await n1.beat(second, "5.0.0");
        expect((await getDesiredState(second.deps.db, n2.id)).agent?.version).toBe("5.0.0");
        await n2.beat(second, "5.0.0");
        expect((await agents.getAgentRollout({ id })).rollout?.state).toBe(RS.SUCCEEDED);
      } finally {
        await second.stop();
      }
    } finally {
      await pg?.[Symbol.asyncDispose]();
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 60_000);
});
