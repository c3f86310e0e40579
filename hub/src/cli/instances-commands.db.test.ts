import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Arch, CatalogService, ProvisionService } from "@powernode/proto";
import { eq } from "drizzle-orm";
import { operatorClient, startTestHub } from "../../test/harness.ts";
import { instances } from "../db/schema/index.ts";
import type { RunningHub } from "../hub.ts";
import { cliFor } from "./test-cli.ts";

let hub: RunningHub;
const pnctl = cliFor(() => hub);
beforeAll(async () => {
  hub = await startTestHub();
  const catalog = operatorClient(hub, CatalogService);
  await catalog.createModule({ name: "tool" });
  for (const [version, c] of [
    ["1", "a"],
    ["2", "b"],
  ] as const)
    await catalog.createModuleVersion({
      moduleName: "tool",
      version,
      arch: Arch.AMD64,
      fsverityDigest: c.repeat(64),
      verityRootHash: c.repeat(64),
      ociDigest: `sha256:${c.repeat(64)}`,
    });
}, 30_000);
afterAll(async () => {
  await hub.stop();
});

test("instances assign: named versions or the newest; none clears; a bad reference is named", async () => {
  const created = await operatorClient(hub, ProvisionService).createInstance({
    name: "assignee",
    arch: Arch.AMD64,
    provider: "none",
  });
  const id = created.instance?.id ?? "";
  const pinned = await pnctl("instances", "assign", id, "tool@1", "--json");
  expect(pinned.code).toBe(0);
  expect(JSON.parse(pinned.out).modules.map((m: { version: string }) => m.version)).toEqual(["1"]);
  const newest = JSON.parse((await pnctl("instances", "assign", id, "tool", "--json")).out);
  expect(newest.modules.map((m: { version: string }) => m.version)).toEqual(["2"]);
  expect(JSON.parse((await pnctl("instances", "assign", id, "--json")).out).modules).toEqual([]);
  const bad = await pnctl("instances", "assign", id, "nope");
  expect(bad.code).toBe(1);
  expect(bad.err).toContain('modules[0].name: no module "nope" in the catalog');
});

test("templates create with --env and --env-file: the node's assignment carries the environment", async () => {
  const dir = mkdtempSync(join(tmpdir(), "pn-env-"));
  const file = join(dir, "tool.env");
  writeFileSync(file, "# the tool's settings\nTOKEN=from-file\n\nMODE=file\n");
  const made = await pnctl(
    "templates",
    "create",
    "with-env",
    "tool@1",
    "--env-file",
    `tool=${file}`,
    "--env",
    "tool.MODE=flag,with=commas",
    "--json",
  );
  expect(made.code).toBe(0);
  const ls = JSON.parse((await pnctl("templates", "ls", "--json")).out) as {
    name: string;
    modules: { name: string; version: string; env: string[] }[];
  }[];
  expect(ls.find((t) => t.name === "with-env")?.modules).toEqual([
    { name: "tool", version: "1", env: ["MODE", "TOKEN"] },
  ]);
  const created = await pnctl(
    "instances",
    "create",
    "--name",
    "from-tpl",
    "--arch",
    "amd64",
    "--provider",
    "none",
    "--template",
    "with-env",
    "--json",
  );
  expect(created.code).toBe(0);
  const id = (JSON.parse(created.out) as { id: string }).id;
  // The instance's own reference wins by name, with its own environment.
  const own = await pnctl("instances", "assign", id, "tool@2", "--env", "tool.MODE=own", "--json");
  expect(own.code).toBe(0);
  const [row] = await hub.deps.db.select().from(instances).where(eq(instances.id, id));
  expect(row?.modules).toEqual([{ name: "tool", version: "2", env: { MODE: "own" } }]);
  const prov = operatorClient(hub, ProvisionService);
  const mine = (
    await prov.assignModules({
      instanceId: id,
      modules: [{ name: "tool", version: "2", env: { MODE: "own" } }],
    })
  ).modules;
  expect(mine.map((m) => [m.version, m.env])).toEqual([["2", { MODE: "own" }]]);
  const state = (await operatorClient(hub, ProvisionService).assignModules({ instanceId: id, modules: [] }))
    .modules;
  expect(state.map((m) => [m.name, m.version, m.env])).toEqual([
    ["tool", "1", { MODE: "flag,with=commas", TOKEN: "from-file" }],
  ]);
  const unknown = await pnctl("templates", "create", "bad-env", "tool", "--env", "other.A=1");
  expect(unknown.code).toBe(2);
  expect(unknown.err).toContain('--env other.A: module "other" is not among the modules given');
  const badName = await pnctl("templates", "create", "bad-env", "tool", "--env", "tool.a-b=1");
  expect(badName.code).toBe(1);
  expect(badName.err).toContain('modules[0].env: "a-b" is not a variable name');
  rmSync(dir, { recursive: true, force: true });
});
