import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import {
  Arch,
  CatalogService,
  NodeService,
  ProvisionService,
  type WatchDesiredStateResponse,
} from "@powernode/proto";
import { makeCsr, nodeTransport, operatorClient, startTestHub } from "../../test/harness.ts";
import type { RunningHub } from "../hub.ts";

let hub: RunningHub;
beforeAll(async () => {
  hub = await startTestHub({ moduleRegistryUrl: "http://10.0.2.2:18080" });
  const c = operatorClient(hub, CatalogService);
  const publish = async (name: string, priority: number, version: string, digit: string, oci = true) => {
    await c.createModule({ name, priority }).catch(() => undefined);
    await c.createModuleVersion({
      moduleName: name,
      version,
      arch: Arch.AMD64,
      fsverityDigest: digit.repeat(64),
      verityRootHash: `${digit.repeat(63)}f`,
      ociDigest: oci ? `sha256:${digit.repeat(64)}` : "",
    });
  };
  await publish("system-base", 0, "1", "a");
  await publish("nginx-light", 50, "1.22", "b");
  await publish("chrony", 40, "4.3", "c");
  await publish("chrony", 40, "4.4", "d");
  await publish("unpushed", 10, "1", "e", false);
}, 30_000);
afterAll(async () => {
  await hub.stop();
});

describe("module assignment", () => {
  test("an instance created from a template starts with the template's modules, digests and pull locations", async () => {
    const p = operatorClient(hub, ProvisionService);
    await p.createTemplate({
      name: "web",
      modules: [{ name: "system-base" }, { name: "nginx-light", version: "1.22" }],
    });
    const created = await p.createInstance({
      name: "web-1",
      arch: Arch.AMD64,
      provider: "none",
      template: "web",
    });
    const id = created.instance?.id ?? "";
    // The instance names its template in every answer (the console's Node view shows it).
    expect(created.instance?.template).toBe("web");
    expect((await p.getInstance({ id })).instance?.template).toBe("web");
    expect((await p.listInstances({})).instances.find((i) => i.id === id)?.template).toBe("web");
    const csr = await makeCsr(id);
    const enrolled = await createClient(NodeService, nodeTransport(hub)).enroll({
      bootstrapToken: created.bootstrapToken,
      csrPem: csr.csrPem,
      instanceUuid: id,
    });
    const node = createClient(
      NodeService,
      nodeTransport(hub, { certPem: enrolled.certificatePem, keyPem: csr.keyPem }),
    );
    const stream = node.watchDesiredState({ knownVersion: 0n }, { signal: AbortSignal.timeout(10_000) });
    let first: WatchDesiredStateResponse | undefined;
    for await (const m of stream) {
      first = m;
      break;
    }
    expect(first?.state?.version).toBe(1n);
    expect(
      first?.state?.modules?.assignments.map((m) => [
        m.name,
        m.version,
        m.priority,
        m.ociReference,
        m.metadataDigest.slice(0, 2),
      ]),
    ).toEqual([
      ["nginx-light", "1.22", 50, `http://10.0.2.2:18080/modules/nginx-light@sha256:${"b".repeat(64)}`, "bb"],
      ["system-base", "1", 0, `http://10.0.2.2:18080/modules/system-base@sha256:${"a".repeat(64)}`, "aa"],
    ]);
  });

  test("AssignModules adds the instance's own modules (newest version by default) in a new version", async () => {
    const p = operatorClient(hub, ProvisionService);
    const inst = (await p.listInstances({})).instances.find((i) => i.name === "web-1");
    const r = await p.assignModules({ instanceId: inst?.id ?? "", modules: [{ name: "chrony" }] });
    expect(r.desiredVersion).toBe(2n);
    expect(r.modules.map((m) => `${m.name}@${m.version}`)).toEqual([
      "nginx-light@1.22",
      "chrony@4.4",
      "system-base@1",
    ]);
    expect((await p.getInstance({ id: inst?.id ?? "" })).instance?.modules).toEqual([
      expect.objectContaining({ name: "chrony", version: "" }),
    ]);
  });

  test("unknown modules, versions and unpublished artifacts are refused and nothing is written", async () => {
    const p = operatorClient(hub, ProvisionService);
    const inst = (await p.listInstances({})).instances.find((i) => i.name === "web-1");
    const id = inst?.id ?? "";
    const code = async (modules: Array<{ name: string; version?: string }>) => {
      const e = await p.assignModules({ instanceId: id, modules }).catch((err) => ConnectError.from(err));
      return e instanceof ConnectError ? [Code[e.code], e.rawMessage] : ["ok", ""];
    };
    expect(await code([{ name: "nope" }])).toEqual([
      "NotFound",
      'modules[0].name: no module "nope" in the catalog',
    ]);
    expect(await code([{ name: "chrony", version: "9" }])).toEqual([
      "NotFound",
      'modules[0]: module "chrony" has version "9" for amd64',
    ]);
    expect((await code([{ name: "unpushed" }]))[0]).toBe("FailedPrecondition");
    expect((await code([{ name: "Bad Name" }]))[0]).toBe("InvalidArgument");
    expect((await code([{ name: "chrony" }, { name: "chrony" }]))[1]).toContain("listed twice");
    const node = (await operatorClient(hub, ProvisionService).getInstance({ id })).instance;
    expect(node?.modules.map((m) => m.name)).toEqual(["chrony"]);
  });

  test("a template naming an unknown module still cannot create nodes that silently lack it", async () => {
    const p = operatorClient(hub, ProvisionService);
    await p.createTemplate({ name: "broken", modules: [{ name: "missing" }] });
    const e = await p
      .createInstance({ name: "broken-1", arch: Arch.AMD64, provider: "none", template: "broken" })
      .catch((err) => ConnectError.from(err));
    expect(e instanceof ConnectError ? Code[e.code] : "ok").toBe("NotFound");
  });
});
