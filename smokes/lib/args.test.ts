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
    });
  });
  test("reads every option", () => {
    expect(
      parsePassArgs(["--tier", "single", "--arch", "arm64", "--fresh", "--keep", "--allow-missing"]),
    ).toEqual({
      tier: "single",
      arch: "arm64",
      fresh: true,
      keep: true,
      allowMissing: true,
    });
  });
  test("names the bad option and value", () => {
    expect(() => parsePassArgs(["--tier", "vm"])).toThrow(
      '--tier must be one of db|single|site|full, got "vm"',
    );
    expect(() => parsePassArgs(["--arch"])).toThrow("--arch needs a value");
    expect(() => parsePassArgs(["--bogus"])).toThrow('unknown option "--bogus"');
  });
});

test("tier order is db < single < site < full", () => {
  expect(tierAtLeast("single", "db")).toBe(true);
  expect(tierAtLeast("db", "single")).toBe(false);
  expect(tierAtLeast("full", "site")).toBe(true);
});
