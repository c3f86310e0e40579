import { expect, test } from "bun:test";
import { DomainError } from "../errors.ts";
import { validateModuleRefs } from "./module-assignments.ts";

const refusalOf = (env: Record<string, string>) => {
  try {
    validateModuleRefs("modules", [{ name: "web", version: "", env }]);
  } catch (e) {
    if (e instanceof DomainError) return `${e.kind}: ${e.message}`;
    throw e;
  }
  return "accepted";
};

test("a reference's env is kept sorted by name; an empty env is dropped", () => {
  expect(validateModuleRefs("modules", [{ name: "web", version: "1", env: { B: "2", A: "1" } }])).toEqual([
    { name: "web", version: "1", env: { A: "1", B: "2" } },
  ]);
  expect(validateModuleRefs("modules", [{ name: "web", version: "", env: {} }])).toEqual([
    { name: "web", version: "" },
  ]);
});

test("bad env names the field and the problem", () => {
  expect(refusalOf({ "bad-name": "x" })).toBe(
    'invalid_argument: modules[0].env: "bad-name" is not a variable name ([A-Z_][A-Z0-9_]*)',
  );
  expect(refusalOf({ lower: "x" })).toContain("is not a variable name");
  expect(refusalOf({ A: "x".repeat(4097) })).toBe(
    "invalid_argument: modules[0].env.A: longer than 4096 bytes",
  );
  expect(refusalOf({ A: "a\0b" })).toBe("invalid_argument: modules[0].env.A: holds a NUL byte");
  expect(refusalOf(Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`V${i}`, ""])))).toBe(
    "invalid_argument: modules[0].env: more than 64 variables",
  );
  expect(refusalOf({ POWERNODE_ADMIN_TOKEN: "x".repeat(4096) })).toBe("accepted");
});
