import { describe, expect, test } from "bun:test";
import { assertResource, startTestEngine } from "../../test/engine-harness.ts";
import { type Controller, defineReconciler } from "./controller.ts";
import { ControllerStatus, checkControllers, EngineConfigError } from "./engine.ts";
import { defineResource } from "./resource-store.ts";

const Input = defineResource<{ n: number }>("TestInput");
const Doubled = defineResource<{ n: number }>("TestDoubled");
const Summed = defineResource<{ total: number; passes: number }>("TestSummed");

/** Writes TestInput/a from outside the engine's controllers: a seeded type the test mutates. */
const seed = [{ type: Input, id: "a", spec: { n: 1 } }];

const doubler = defineReconciler({
  name: "doubler",
  inputs: [Input],
  outputs: [Doubled],
  async reconcile(ctx) {
    for (const r of ctx.list(Input)) ctx.set(Doubled, r.id, { n: r.spec.n * 2 });
    return undefined;
  },
});

describe("controller engine", () => {
  test("level-triggered: an input change re-runs the controller, which reads the latest value", async () => {
    await using engine = startTestEngine([doubler], seed);
    await assertResource(engine, Doubled, "a", { n: 2 });
    engine.store.set(Input, "a", { n: 5 });
    engine.store.set(Input, "b", { n: 7 });
    await assertResource(engine, Doubled, "a", { n: 10 });
    await assertResource(engine, Doubled, "b", { n: 14 });
    expect(engine.conditions()).toEqual([
      expect.objectContaining({ type: "doubler", ok: true, reason: "Reconciled" }),
    ]);
  });

  test("a chain: one controller's output is the next one's input", async () => {
    let passes = 0;
    const summer = defineReconciler({
      name: "summer",
      inputs: [Doubled],
      outputs: [Summed],
      async reconcile(ctx) {
        passes++;
        const total = ctx.list(Doubled).reduce((t, r) => t + r.spec.n, 0);
        ctx.set(Summed, "all", { total, passes: 0 });
        return undefined;
      },
    });
    await using engine = startTestEngine([summer, doubler], seed);
    await assertResource(engine, Summed, "all", { total: 2, passes: 0 });
    engine.store.set(Input, "b", { n: 4 });
    await assertResource(engine, Summed, "all", (s) => s.total === 10);
    expect(passes).toBeGreaterThanOrEqual(2);
  });

  test("a controller that throws is restarted with backoff and its Condition says why", async () => {
    let calls = 0;
    const flaky: Controller = {
      name: "flaky",
      inputs: [Input],
      outputs: [Doubled],
      async run(ctx) {
        calls++;
        if (calls < 3) throw new Error(`attempt ${calls} failed`);
        ctx.set(Doubled, "a", { n: 1 });
        ctx.condition(true, "Working");
        await ctx.changed({ timeoutMs: 60_000 });
      },
    };
    await using engine = startTestEngine([flaky], seed);
    await assertResource(engine, ControllerStatus, "flaky", (s) => !s.ok && s.message === "attempt 1 failed");
    await assertResource(engine, Doubled, "a", { n: 1 });
    const st = await assertResource(engine, ControllerStatus, "flaky", (s) => s.ok);
    expect(st?.reason).toBe("Working");
    expect(st?.restarts).toBe(2);
    expect(engine.log.lines.some((l) => l.includes("controller flaky failed (attempt 2 failed)"))).toBe(true);
  });

  test("a controller may write only its outputs and read only what it declared", async () => {
    const rogue: Controller = {
      name: "rogue",
      inputs: [],
      outputs: [Doubled],
      async run(ctx) {
        ctx.set(Summed as never, "x", { total: 1 } as never);
      },
    };
    await using engine = startTestEngine([rogue]);
    const st = await assertResource(engine, ControllerStatus, "rogue", (s) => !s.ok);
    expect(st?.message).toBe("controller rogue may not write TestSummed: declare it");
  });

  test("start-up refuses two writers of one type, an input nobody writes, and duplicate names", () => {
    const other = defineReconciler({ ...doublerSpec(), name: "other" });
    expect(() => checkControllers([doubler, other], seed)).toThrow(
      "TestDoubled is written by both doubler and other",
    );
    expect(() => checkControllers([doubler])).toThrow("doubler reads TestInput, which nothing writes");
    expect(() => checkControllers([doubler, doubler], seed)).toThrow("two controllers are named doubler");
    expect(() => checkControllers([doubler], seed)).not.toThrow();
    expect(() => checkControllers([doubler])).toThrow(EngineConfigError);
  });

  test("an unchanged spec is not a change (no busy loop between two controllers)", async () => {
    let passes = 0;
    const counter = defineReconciler({
      name: "counter",
      inputs: [Doubled],
      outputs: [Summed],
      async reconcile(ctx) {
        passes++;
        ctx.set(Summed, "all", { total: ctx.list(Doubled).length, passes: 0 });
        return undefined;
      },
    });
    await using engine = startTestEngine([doubler, counter], seed);
    await assertResource(engine, Summed, "all", { total: 1, passes: 0 });
    engine.store.set(Input, "a", { n: 1 }); // same value: no change, no pass
    await Bun.sleep(50);
    expect(passes).toBeLessThanOrEqual(2);
  });
});

function doublerSpec() {
  return {
    name: "doubler",
    inputs: [Input],
    outputs: [Doubled],
    reconcile: async () => undefined,
  };
}
