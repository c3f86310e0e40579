import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { operatorClient, startTestHub } from "../../hub/test/harness.ts";
import { CatalogService, ProvisionService } from "../../proto/src/index.ts";
import { parseStartModules, prepareStartModules } from "./start-modules.ts";

describe("parseStartModules", () => {
  test("default, a list, none, and bad names", () => {
    expect(parseStartModules(undefined)).toEqual(["system-base", "nginx-light"]);
    expect(parseStartModules(" chrony , nginx-light ")).toEqual(["chrony", "nginx-light"]);
    expect(parseStartModules("none")).toEqual([]);
    expect(parseStartModules("")).toEqual([]);
    expect(() => parseStartModules("Nginx,../x")).toThrow(
      "POWERNODE_START_MODULES: not module names: Nginx, ../x",
    );
  });
});

describe("prepareStartModules (a real build, publish to a real hub)", () => {
  let hub: Awaited<ReturnType<typeof startTestHub>>;
  beforeAll(async () => {
    hub = await startTestHub();
  }, 30_000);
  afterAll(async () => {
    await hub.stop();
  });

  test("builds and publishes the module, makes the template; a second run changes nothing", async () => {
    const provision = operatorClient(hub, ProvisionService);
    const lines: string[] = [];
    const opts = {
      names: ["nginx-light"],
      arch: "amd64" as const,
      hubUrl: hub.httpUrl,
      token: hub.adminToken,
      provision,
      template: "demo-nginx-light",
      say: (l: string) => lines.push(l),
    };
    expect(await prepareStartModules(opts)).toBe("demo-nginx-light");
    const { versions } = await operatorClient(hub, CatalogService).getModule({ name: "nginx-light" });
    expect(versions).toHaveLength(1);
    expect(versions[0]?.fsverityDigest).toMatch(/^[0-9a-f]{64}$/);
    const { templates } = await provision.listTemplates({});
    expect(templates.map((t) => [t.name, t.modules.map((m) => m.name)])).toEqual([
      ["demo-nginx-light", ["nginx-light"]],
    ]);
    expect(lines.some((l) => l.startsWith("module 1/1 nginx-light: published"))).toBe(true);
    await prepareStartModules(opts);
    expect(
      (await operatorClient(hub, CatalogService).getModule({ name: "nginx-light" })).versions,
    ).toHaveLength(1);
    expect((await provision.listTemplates({})).templates).toHaveLength(1);
  }, 300_000);
});
