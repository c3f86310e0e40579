/**
 * Module rollouts over the real API, with nodes faked through real heartbeats on the mTLS listener:
 * each fake node reports what its desired state assigns as mounted with the catalog's digests (as the
 * agent does after a live module swap), except a version it is told is broken, which it reports
 * failed (as the agent does when the bytes do not verify). The canary goes first and alone; a broken
 * version stops at the canary and is rolled back while the other nodes never see it; the template
 * names the version after the last batch; abort, the batch timeout and bad input.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Code } from "@connectrpc/connect";
import {
  Arch,
  CatalogService,
  EVENTS,
  ModuleRolloutService,
  ModuleRolloutNodeState as NS,
  ProvisionService,
  ModuleRolloutState as RS,
} from "@powernode/proto";
import { eq } from "drizzle-orm";
import { operatorClient, refusalOf, startTestHub, waitFor } from "../../test/harness.ts";
import { type ModuleNodeFake, moduleNodeFake } from "../../test/module-node-fake.ts";
import { cliFor } from "../cli/test-cli.ts";
import { fleetEvents, templates } from "../db/schema/index.ts";
import { getDesiredState } from "../desired-state/index.ts";
import type { RunningHub } from "../hub.ts";

let hub: RunningHub;
const rollouts = () => operatorClient(hub, ModuleRolloutService);
const BROKEN = "9-broken";

beforeAll(async () => {
  hub = await startTestHub({ moduleRegistryUrl: "http://10.0.2.2:18080" });
  const c = operatorClient(hub, CatalogService);
  const publish = async (name: string, version: string, digit: string, arch = Arch.AMD64) => {
    await c.createModule({ name, priority: 40 }).catch(() => undefined);
    await c.createModuleVersion({
      moduleName: name,
      version,
      arch,
      fsverityDigest: digit.repeat(64),
      verityRootHash: `${digit.repeat(63)}f`,
      ociDigest: `sha256:${digit.repeat(64)}`,
    });
  };
  await publish("system-base", "1", "a");
  await publish("chrony", "1", "b");
  await publish("chrony", "2", "c");
  await publish("chrony", BROKEN, "d");
  await publish("chrony", "3-arm-only", "e", Arch.ARM64);
}, 30_000);
afterAll(async () => {
  await hub.stop();
});

type FakeNode = ModuleNodeFake & { assigned(module?: string): Promise<string> };

async function fakeNode(name: string, template: string): Promise<FakeNode> {
  const n = await moduleNodeFake(hub, name, template, [BROKEN]);
  return { ...n, assigned: (module = "chrony") => n.assigned(module) };
}

/** A template naming chrony 1 with `count` nodes `<name>-1..n`. */
async function fleet(name: string, count: number): Promise<FakeNode[]> {
  await operatorClient(hub, ProvisionService).createTemplate({
    name,
    modules: [{ name: "system-base" }, { name: "chrony", version: "1", env: { CHRONY_POOL: "pool.lab" } }],
  });
  const out: FakeNode[] = [];
  for (let i = 1; i <= count; i++) out.push(await fakeNode(`${name}-${i}`, name));
  return out;
}

const status = async (id: string) => (await rollouts().getModuleRollout({ id })).rollout;
const nodeStates = async (id: string) =>
  (await status(id))?.batches.map((b) => b.nodes.map((n) => `${n.nodeName}:${NS[n.state]}`));

/** Heartbeats from every node until `done` answers. */
async function beatUntil<T>(what: string, nodes: FakeNode[], done: () => Promise<T | undefined>): Promise<T> {
  return waitFor(what, async () => {
    for (const n of nodes) await n.beat();
    await hub.scheduler.runNow("module-rollouts");
    return done();
  });
}

describe("module rollouts", () => {
  test("the plan: the canary alone, then batches of the percentage", async () => {
    await fleet("plan-a", 5);
    const plan = await rollouts().planModuleRollout({
      template: "plan-a",
      module: "chrony",
      version: "2",
      batchPercent: 40,
    });
    expect(plan.totalNodes).toBe(5);
    expect(plan.fromVersion).toBe("1");
    expect(plan.batches.map((b) => b.nodes.map((n) => n.nodeName))).toEqual([
      ["plan-a-1"],
      ["plan-a-2", "plan-a-3"],
      ["plan-a-4", "plan-a-5"],
    ]);
  });

  test("a good version: canary first and alone, then the batches; the template names it at the end", async () => {
    const nodes = await fleet("roll-a", 3);
    const started = (
      await rollouts().startModuleRollout({
        template: "roll-a",
        module: "chrony",
        version: "2",
        batchPercent: 50,
      })
    ).rollout;
    const id = started?.id ?? "";
    expect(started?.state).toBe(RS.RUNNING);
    // Only the canary is given the version; the others wait for its gate.
    expect(await Promise.all(nodes.map((n) => n.assigned()))).toEqual(["2", "1", "1"]);
    expect(await nodeStates(id)).toEqual([["roll-a-1:UPDATING"], ["roll-a-2:PENDING", "roll-a-3:PENDING"]]);
    // The canary's env came along (its own reference carries the template's env).
    expect(
      (await getDesiredState(hub.deps.db, nodes[0]?.id ?? "")).modules?.assignments.find(
        (a) => a.name === "chrony",
      )?.env,
    ).toEqual({
      CHRONY_POOL: "pool.lab",
    });
    await nodes[0]?.beat();
    // The canary passed: the next batch (both nodes at once) has the version.
    await waitFor("batch 1 to start", async () =>
      (await status(id))?.currentBatch === 1 ? true : undefined,
    );
    expect(await Promise.all(nodes.map((n) => n.assigned()))).toEqual(["2", "2", "2"]);
    const done = await beatUntil("the rollout to succeed", nodes, async () => {
      const s = await status(id);
      return s?.state === RS.SUCCEEDED ? s : undefined;
    });
    expect(done.batches.flatMap((b) => b.nodes.map((n) => n.state))).toEqual([
      NS.UPDATED,
      NS.UPDATED,
      NS.UPDATED,
    ]);
    const [tpl] = await hub.deps.db.select().from(templates).where(eq(templates.name, "roll-a"));
    expect(tpl?.modules.find((m) => m.name === "chrony")).toEqual({
      name: "chrony",
      version: "2",
      env: { CHRONY_POOL: "pool.lab" },
    });
    // The rollout's own references are gone again: the nodes follow the template.
    const own = await operatorClient(hub, ProvisionService).listInstances({});
    expect(
      own.instances.filter((i) => i.name.startsWith("roll-a-")).map((i) => i.modules.map((m) => m.name)),
    ).toEqual([[], [], []]);
    expect(await Promise.all(nodes.map((n) => n.assigned()))).toEqual(["2", "2", "2"]);
    const kinds = (await hub.deps.db.select().from(fleetEvents))
      .filter((e) => e.payload.rolloutId === id)
      .map((e) => e.kind);
    expect(kinds.filter((k) => k === EVENTS.moduleRolloutBatch.kind)).toHaveLength(2);
    expect(kinds.filter((k) => k === EVENTS.moduleRolloutFinished.kind)).toHaveLength(1);
  });

  test("a broken version stops at the canary and is rolled back; the other nodes never see it", async () => {
    const nodes = await fleet("roll-b", 3);
    // The canary has a reference of its own: the rollback must give it back, not wipe it.
    await operatorClient(hub, ProvisionService).assignModules({
      instanceId: nodes[0]?.id ?? "",
      modules: [{ name: "system-base", version: "1" }],
    });
    const id =
      (
        await rollouts().startModuleRollout({
          template: "roll-b",
          module: "chrony",
          version: BROKEN,
          batchPercent: 100,
        })
      ).rollout?.id ?? "";
    const seen = new Set<string>();
    const failed = await beatUntil("the canary to fail", nodes, async () => {
      for (const n of nodes.slice(1)) seen.add(await n.assigned());
      const s = await status(id);
      return s?.state === RS.FAILED && s.batches[0]?.nodes[0]?.state === NS.ROLLED_BACK ? s : undefined;
    });
    expect(failed.error).toContain(
      "the canary failed: roll-b-1: chrony 9-broken failed on the node: metadata image digest mismatch",
    );
    expect(await nodeStates(id)).toEqual([
      ["roll-b-1:ROLLED_BACK"],
      ["roll-b-2:PENDING", "roll-b-3:PENDING"],
    ]);
    expect([...seen]).toEqual(["1"]);
    expect(await Promise.all(nodes.map((n) => n.assigned()))).toEqual(["1", "1", "1"]);
    // The canary is back on what it ran: its own reference kept, the rollout's gone.
    const [inst] = (await operatorClient(hub, ProvisionService).listInstances({})).instances.filter(
      (i) => i.name === "roll-b-1",
    );
    expect(inst?.modules.map((m) => `${m.name}@${m.version}`)).toEqual(["system-base@1"]);
    const [tpl] = await hub.deps.db.select().from(templates).where(eq(templates.name, "roll-b"));
    expect(tpl?.modules.find((m) => m.name === "chrony")?.version).toBe("1");
  });

  test("abort rolls back the batch in flight; a batch that never reports fails at the timeout", async () => {
    const nodes = await fleet("roll-c", 2);
    const id =
      (await rollouts().startModuleRollout({ template: "roll-c", module: "chrony", version: "2" })).rollout
        ?.id ?? "";
    expect(await nodes[0]?.assigned()).toBe("2");
    const aborted = (await rollouts().abortModuleRollout({ id })).rollout;
    expect(aborted?.state).toBe(RS.ABORTED);
    expect(await nodeStates(id)).toEqual([["roll-c-1:ROLLED_BACK"], ["roll-c-2:PENDING"]]);
    expect(await nodes[0]?.assigned()).toBe("1");
    expect(await refusalOf(rollouts().abortModuleRollout({ id }))).toMatchObject({
      code: Code.FailedPrecondition,
    });

    const t = (
      await rollouts().startModuleRollout({
        template: "roll-c",
        module: "chrony",
        version: "2",
        batchTimeoutSeconds: 1,
      })
    ).rollout;
    expect(t?.batchTimeoutSeconds).toBe(1);
    const late = await waitFor("the canary to time out", async () => {
      await hub.scheduler.runNow("module-rollouts");
      const s = await status(t?.id ?? "");
      return s?.state === RS.FAILED ? s : undefined;
    });
    expect(late.error).toContain("no report of chrony 2 mounted and verified within 1 s");
  });

  test("one running rollout per template; bad input is refused naming the field", async () => {
    await fleet("roll-d", 2);
    const start = (extra: Record<string, unknown>) =>
      refusalOf(
        rollouts().startModuleRollout({ template: "roll-d", module: "chrony", version: "2", ...extra }),
      );
    expect(await start({ template: "" })).toMatchObject({
      code: Code.InvalidArgument,
      message: "template: required (a template's id or name)",
    });
    expect(await start({ template: "no-such" })).toMatchObject({
      code: Code.NotFound,
      message: expect.stringContaining("template: no template"),
    });
    expect(await start({ module: "nginx" })).toMatchObject({
      code: Code.InvalidArgument,
      message: 'module: template "roll-d" names no module "nginx" (it names system-base, chrony)',
    });
    expect(await start({ module: "Bad Name" })).toMatchObject({
      code: Code.InvalidArgument,
      message: expect.stringContaining("module:"),
    });
    expect(await start({ version: "" })).toMatchObject({
      code: Code.InvalidArgument,
      message: "version: required",
    });
    expect(await start({ version: "1" })).toMatchObject({
      code: Code.FailedPrecondition,
      message: expect.stringContaining("already names chrony 1"),
    });
    expect(await start({ version: "3-arm-only" })).toMatchObject({
      code: Code.NotFound,
      message:
        'version: module "chrony" has no version 3-arm-only for amd64, the arch of 2 node(s) of template "roll-d"',
    });
    expect(await start({ batchPercent: 101 })).toMatchObject({
      code: Code.InvalidArgument,
      message: expect.stringContaining("batch_percent"),
    });
    expect(await start({ batchTimeoutSeconds: 100_000 })).toMatchObject({
      code: Code.InvalidArgument,
      message: expect.stringContaining("batch_timeout_seconds"),
    });
    await operatorClient(hub, ProvisionService).createTemplate({
      name: "roll-empty",
      modules: [{ name: "chrony", version: "1" }],
    });
    expect(await start({ template: "roll-empty" })).toMatchObject({
      code: Code.FailedPrecondition,
      message: expect.stringContaining("no nodes"),
    });
    const first = (
      await rollouts().startModuleRollout({ template: "roll-d", module: "chrony", version: "2" })
    ).rollout;
    expect(await start({})).toMatchObject({
      code: Code.AlreadyExists,
      message: expect.stringContaining(`pnctl rollout abort ${first?.id}`),
    });
    expect((await rollouts().listModuleRollouts({ template: "roll-d" })).rollouts.map((r) => r.id)).toEqual([
      first?.id ?? "",
    ]);
    expect(await refusalOf(rollouts().getModuleRollout({ id: "nope" }))).toMatchObject({
      code: Code.InvalidArgument,
      message: expect.stringContaining("id:"),
    });
  });

  test("pnctl rollout plan, start, status --json, ls, abort", async () => {
    await fleet("cli-r", 3);
    const pnctl = cliFor(() => hub);
    const plan = JSON.parse(
      (await pnctl("rollout", "plan", "cli-r", "chrony", "2", "--batch-percent", "50", "--json")).out,
    );
    expect(plan).toEqual({
      totalNodes: 3,
      fromVersion: "1",
      batches: [
        { batch: "canary", nodes: ["cli-r-1"] },
        { batch: "1", nodes: ["cli-r-2", "cli-r-3"] },
      ],
    });
    const started = await pnctl("rollout", "start", "cli-r", "chrony", "2", "--json");
    expect(started.code).toBe(0);
    const r = JSON.parse(started.out);
    expect(r).toMatchObject({
      template: "cli-r",
      module: "chrony",
      fromVersion: "1",
      toVersion: "2",
      state: "running",
    });
    const status = JSON.parse((await pnctl("rollout", "status", r.id, "--json")).out);
    expect(
      status.nodes.map(
        (n: { batch: string; node: string; state: string }) => `${n.batch}:${n.node}:${n.state}`,
      ),
    ).toEqual(["canary:cli-r-1:updating", "1:cli-r-2:pending", "2:cli-r-3:pending"]);
    const ls = JSON.parse((await pnctl("rollout", "ls", "--template", "cli-r", "--json")).out);
    expect(ls.map((x: { id: string }) => x.id)).toEqual([r.id]);
    expect((await pnctl("rollout", "abort", r.id)).out).toContain("aborted at batch 1/3");
    expect((await pnctl("rollout", "status")).err).toContain("missing <ID>");
    expect((await pnctl("rollout", "start", "cli-r", "chrony")).err).toContain("missing <VERSION>");
    expect((await pnctl("rollout", "plan", "cli-r", "chrony", "2", "--batch-percent", "x")).err).toContain(
      "--batch-percent",
    );
    expect((await pnctl("rollout", "frobnicate")).code).toBe(2);
  });
});
