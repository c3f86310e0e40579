import { describe, expect, test } from "bun:test";
import { createExec } from "@powernode/exec";
import { compareDebVersions, satisfiesRelation } from "./version.ts";

const PAIRS: [string, string][] = [
  ["1.0", "1.0"],
  ["1.0", "1.0-1"],
  ["1.0~rc1", "1.0"],
  ["1.0~rc1", "1.0~rc1~"],
  ["1:1.2.13.dfsg-1", "1.2.13"],
  ["2.36-9+deb12u14", "2.36-9+deb12u7"],
  ["20250419~deb12u2", "20230311+deb12u1"],
  ["1.22.1-9+deb12u11", "1.22.1-9+deb12u11.1~"],
  ["3.1-20221030-2", "2.11-20080614-0"],
  ["1.0a", "1.0+"],
  ["1.0", "1.00"],
  ["0:1.0", "1.0"],
  ["1.2.3-1", "1.2.3-1build1"],
  ["10", "9"],
  ["a", "B"],
];

describe("compareDebVersions", () => {
  test("agrees with dpkg --compare-versions on every pair, both ways", async () => {
    const exec = createExec();
    for (const [a, b] of PAIRS) {
      for (const [x, y] of [
        [a, b],
        [b, a],
      ] as const) {
        const lt =
          (await exec.run("dpkg", ["--compare-versions", x, "lt", y], { allowFailure: true })).exitCode === 0;
        const eq =
          (await exec.run("dpkg", ["--compare-versions", x, "eq", y], { allowFailure: true })).exitCode === 0;
        const c = compareDebVersions(x, y);
        expect({ x, y, sign: Math.sign(c) }).toEqual({ x, y, sign: lt ? -1 : eq ? 0 : 1 });
      }
    }
  }, 30_000);

  test("relations of Depends fields", () => {
    expect(satisfiesRelation("2.36-9", ">=", "2.34")).toBe(true);
    expect(satisfiesRelation("2.36-9", "<<", "2.36-9")).toBe(false);
    expect(satisfiesRelation("1.22.1-9+deb12u11", "<<", "1.22.1-9+deb12u11.1~")).toBe(true);
    expect(satisfiesRelation("1:0.63-4", ">=", "1:0.63-4~")).toBe(true);
    expect(satisfiesRelation("1.0", "=", "0:1.0")).toBe(true);
    expect(satisfiesRelation("1.0", ">>", "1.0")).toBe(false);
  });
});
