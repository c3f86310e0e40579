import { expect, test } from "bun:test";
import { forbidden, importsOf, packageOf } from "./check-imports.ts";

test("import specifiers: static (multi-line), side-effect, re-export and dynamic, with lines", () => {
  const text = [
    'import { a } from "./a.ts";',
    "import {",
    "  b,",
    '} from "@powernode/hub";',
    'import "reflect-metadata";',
    'export { c } from "../c.ts";',
    'const d = await import("../../hub/src/d.ts");',
  ].join("\n");
  expect(importsOf(text)).toEqual([
    { spec: "./a.ts", line: 1 },
    { spec: "@powernode/hub", line: 4 },
    { spec: "reflect-metadata", line: 5 },
    { spec: "../c.ts", line: 6 },
    { spec: "../../hub/src/d.ts", line: 7 },
  ]);
});

test("the rules: hub and node-agent never import each other; proto nothing; lib only lib", () => {
  expect(packageOf("lib/exec/src/exec.ts")).toBe("lib/exec");
  expect(forbidden("node-agent/src/a.ts", "node-agent", "hub", "hub/src/b.ts")).toBe(
    "node-agent may not import hub",
  );
  expect(forbidden("hub/src/a.ts", "hub", "node-agent", "node-agent")).toBe("hub may not import node-agent");
  expect(forbidden("proto/src/a.ts", "proto", "lib/exec", "lib/exec")).toBe("proto may not import lib/exec");
  expect(forbidden("lib/oci/src/a.ts", "lib/oci", "composefs", "composefs")).toBe(
    "lib/oci may not import composefs",
  );
  expect(forbidden("composefs/src/a.ts", "composefs", "lib/exec", "lib/exec")).toBeUndefined();
  expect(forbidden("hub/src/a.ts", "hub", "composefs", "composefs")).toBeUndefined();
  expect(forbidden("smokes/pass1.ts", "smokes", "hub", "hub")).toBeUndefined();
});

test("hub tests may use the scripts' helpers; hub code may not", () => {
  expect(forbidden("hub/src/x.db.test.ts", "hub", "scripts", "scripts/lib/postgres.ts")).toBeUndefined();
  expect(forbidden("hub/test/harness.ts", "hub", "scripts", "scripts/lib/exec.ts")).toBeUndefined();
  expect(forbidden("hub/src/x.ts", "hub", "scripts", "scripts/lib/exec.ts")).toBe(
    "hub may not import scripts",
  );
});

test("web imports only proto; only the hub's console feature imports web", () => {
  expect(forbidden("web/src/api.ts", "web", "proto", "proto")).toBeUndefined();
  expect(forbidden("web/src/api.ts", "web", "hub", "hub")).toBe("web may not import hub");
  expect(forbidden("web/src/api.ts", "web", "lib/exec", "lib/exec")).toBe("web may not import lib/exec");
  expect(forbidden("hub/src/console/console-routes.ts", "hub", "web", "web")).toBeUndefined();
  expect(forbidden("hub/src/fleet/fleet-service.ts", "hub", "web", "web")).toBe("hub may not import web");
});
