import { afterAll, beforeAll, expect, test } from "bun:test";
import { Arch, CatalogService, ProvisionService } from "@powernode/proto";
import { operatorClient, startTestHub } from "../../test/harness.ts";
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
