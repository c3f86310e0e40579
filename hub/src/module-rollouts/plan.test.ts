import { describe, expect, test } from "bun:test";
import { gate, planBatches } from "./plan.ts";

describe("planBatches", () => {
  test("the canary alone first, then ceil(pct% of all) per batch", () => {
    const nodes = ["a", "b", "c", "d", "e", "f", "g", "h", "i"];
    expect(planBatches(nodes, 25)).toEqual([["a"], ["b", "c", "d"], ["e", "f", "g"], ["h", "i"]]);
    expect(planBatches(nodes, 100)).toEqual([["a"], ["b", "c", "d", "e", "f", "g", "h", "i"]]);
    expect(planBatches(nodes, 1)).toEqual(nodes.map((n) => [n]));
  });
  test("three nodes at 50%: canary, then two", () => {
    expect(planBatches(["a", "b", "c"], 50)).toEqual([["a"], ["b", "c"]]);
  });
  test("one node is only the canary; none is no batch", () => {
    expect(planBatches(["a"], 25)).toEqual([["a"]]);
    expect(planBatches([], 25)).toEqual([]);
  });
  test("every node is in exactly one batch, in order", () => {
    for (let n = 1; n <= 40; n++)
      for (const pct of [1, 10, 33, 50, 99, 100]) {
        const nodes = Array.from({ length: n }, (_, i) => i);
        const batches = planBatches(nodes, pct);
        expect(batches.flat()).toEqual(nodes);
        expect(batches[0]).toEqual([0]);
      }
  });
});

describe("gate", () => {
  const startedAt = new Date("2026-12-07T10:00:00Z");
  const base = {
    module: "chrony",
    version: "2",
    instanceState: "running",
    observations: [],
    observedAt: null,
    startedAt,
    timeoutSeconds: 60,
    now: new Date("2026-12-07T10:00:10Z"),
  };
  const seen = (state: string, version = "2", message?: string) => ({
    observations: [{ name: "chrony", version, metadataDigest: "", verityRootHash: "", state, message }],
    observedAt: new Date("2026-12-07T10:00:05Z"),
  });
  test("mounted at the version on a running node: updated", () => {
    expect(gate({ ...base, ...seen("mounted") })).toEqual({ state: "updated" });
  });
  test("a report older than the assignment proves nothing", () => {
    expect(gate({ ...base, ...seen("mounted"), observedAt: new Date("2026-12-07T09:59:00Z") })).toEqual({
      state: "waiting",
    });
  });
  test("still the old version or pending: waiting, then failed at the timeout", () => {
    expect(gate({ ...base, ...seen("mounted", "1") }).state).toBe("waiting");
    expect(gate({ ...base, ...seen("pending") }).state).toBe("waiting");
    const late = gate({ ...base, ...seen("pending"), now: new Date("2026-12-07T10:01:01Z") });
    expect(late.state).toBe("failed");
    expect(late.state === "failed" && late.error).toContain("within 60 s (last seen pending)");
  });
  test("failed at the version, degraded or deleted: failed with why", () => {
    const f = gate({ ...base, ...seen("failed", "2", "metadata digest mismatch") });
    expect(f).toEqual({ state: "failed", error: "chrony 2 failed on the node: metadata digest mismatch" });
    expect(gate({ ...base, ...seen("mounted"), instanceState: "degraded" }).state).toBe("failed");
    expect(gate({ ...base, instanceState: "deleted" }).state).toBe("failed");
  });
});
