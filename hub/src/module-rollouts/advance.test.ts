import { expect, test } from "bun:test";
import { restoredModules, withVersion } from "./advance.ts";

test("withVersion: the module at the version, its env from the node's own reference, else the template's", () => {
  const tpl = [{ name: "chrony", version: "1", env: { POOL: "t" } }];
  expect(withVersion([], tpl, "chrony", "2")).toEqual([{ name: "chrony", version: "2", env: { POOL: "t" } }]);
  expect(withVersion([{ name: "chrony", version: "1", env: { POOL: "own" } }], tpl, "chrony", "2")).toEqual([
    { name: "chrony", version: "2", env: { POOL: "own" } },
  ]);
  expect(withVersion([{ name: "x", version: "" }], [], "chrony", "2")).toEqual([
    { name: "x", version: "" },
    { name: "chrony", version: "2" },
  ]);
});

test("restoredModules: the module as it was before, every other reference as it is now", () => {
  const before = [{ name: "system-base", version: "1" }];
  const now = [
    { name: "chrony", version: "2" },
    { name: "nginx", version: "" },
  ];
  expect(restoredModules(now, before, "chrony")).toEqual([{ name: "nginx", version: "" }]);
  expect(restoredModules(now, [{ name: "chrony", version: "1" }], "chrony")).toEqual([
    { name: "nginx", version: "" },
    { name: "chrony", version: "1" },
  ]);
});
