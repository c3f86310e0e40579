import { describe, expect, test } from "bun:test";
import { parsePassArgs, tierAtLeast } from "./args.ts";

describe("parsePassArgs", () => {
  test("defaults to db tier on amd64", () => {
    expect(parsePassArgs([])).toEqual({
      tier: "db",
      arch: "amd64",
      fresh: false,
      keep: false,
      allowMissing: false,
      phase: undefined,
      site: "a",
    });
  });
  test("reads every option", () => {
    expect(
      parsePassArgs([
        "--tier",
        "single",
        "--arch",
        "arm64",
        "--fresh",
        "--keep",
        "--allow-missing",
        "--phase",
        "8",
        "--site",
        "b",
      ]),
    ).toEqual({
      tier: "single",
      arch: "arm64",
      fresh: true,
      keep: true,
      allowMissing: true,
      phase: 8,
      site: "b",
    });
  });
  test("names the bad option and value", () => {
    expect(() => parsePassArgs(["--tier", "vm"])).toThrow(
      '--tier must be one of db|single|site|full, got "vm"',
    );
    expect(() => parsePassArgs(["--arch"])).toThrow("--arch needs a value");
    expect(() => parsePassArgs(["--bogus"])).toThrow('unknown option "--bogus"');
  });
  test("--phase is 1 to 8 and --site a or b, else an error naming the option", () => {
    expect(parsePassArgs(["--phase", "1"]).phase).toBe(1);
    for (const bad of ["0", "9", "3.5", "-1", "x", "03x", ""])
      expect(() => parsePassArgs(["--phase", bad])).toThrow(
        `--phase must be a number from 1 to 8, got "${bad}"`,
      );
    expect(() => parsePassArgs(["--phase"])).toThrow("--phase needs a value");
    expect(parsePassArgs(["--site", "b"]).site).toBe("b");
    expect(() => parsePassArgs(["--site", "c"])).toThrow('--site must be one of a|b, got "c"');
    expect(() => parsePassArgs(["--site"])).toThrow("--site needs a value");
  });
});

test("tier order is db < single < site < full", () => {
  expect(tierAtLeast("single", "db")).toBe(true);
  expect(tierAtLeast("db", "single")).toBe(false);
  expect(tierAtLeast("full", "site")).toBe(true);
});
