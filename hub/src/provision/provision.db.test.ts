import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { Arch, FleetService, NodeState, ProvisionService } from "@powernode/proto";
import { eq } from "drizzle-orm";
import { enrollTestNode, operatorClient, startTestHub } from "../../test/harness.ts";
import { instances } from "../db/schema/index.ts";
import type { RunningHub } from "../hub.ts";
import type { BootMaterial, InstanceProvider, ProviderInstance } from "../providers/provider.ts";

/** A provider that only records calls: the machine it would start cannot exist in a unit test. */
function createRecordingProviderFake() {
  const calls: { op: string; id: string; boot?: BootMaterial }[] = [];
  const provider: InstanceProvider = {
    name: "fake",
    async start(inst: ProviderInstance, boot, emit) {
      calls.push({ op: "start", id: inst.id, boot });
      await emit({ kind: "system.fake.domain_started", severity: "info" }, { name: inst.name });
      return { serialLog: `/tmp/${inst.name}.log` };
    },
    async stop(inst) {
      calls.push({ op: "stop", id: inst.id });
    },
    async destroy(inst) {
      calls.push({ op: "destroy", id: inst.id });
    },
    status: async () => "unknown",
  };
  return { provider, calls };
}

const fake = createRecordingProviderFake();
let hub: RunningHub;
beforeAll(async () => {
  hub = await startTestHub({ providers: [fake.provider], nodeUrl: "https://10.0.2.2:9999" });
}, 30_000);
afterAll(async () => {
  await hub.stop();
});

describe("ProvisionService", () => {
  test("create + start hands boot material to the provider; pending -> starting -> stopped -> deleted", async () => {
    const prov = operatorClient(hub, ProvisionService);
    const created = await prov.createInstance({
      name: "vm-1",
      arch: Arch.AMD64,
      provider: "fake",
      start: true,
      memoryMib: 512,
    });
    const id = created.instance?.id ?? "";
    expect(created.instance?.state).toBe(NodeState.STARTING);
    expect(created.instance?.providerInfo).toEqual({ serialLog: "/tmp/vm-1.log" });
    expect(created.bootstrapToken).toBe(""); // only the provider got it
    const start = fake.calls.find((c) => c.op === "start" && c.id === id);
    expect(start?.boot?.instanceUuid).toBe(id);
    expect(start?.boot?.platformUrl).toBe("https://10.0.2.2:9999");
    expect(start?.boot?.caPem).toBe(hub.caPem);
    expect(start?.boot?.bootstrapToken).toMatch(/^pnb_/);

    const fleet = operatorClient(hub, FleetService);
    const kinds = (await fleet.listEvents({ nodeId: id })).events.map((e) => e.kind);
    expect(kinds).toEqual([
      "system.instance.provisioned",
      "system.bootstrap_token.issued",
      "system.fake.domain_started",
      "system.instance.started",
    ]);

    expect((await prov.stopInstance({ id })).instance?.state).toBe(NodeState.STOPPED);
    await prov.deleteInstance({ id });
    expect((await prov.getInstance({ id })).instance?.state).toBe(NodeState.DELETED);
    expect(fake.calls.filter((c) => c.id === id).map((c) => c.op)).toEqual(["start", "stop", "destroy"]);
    expect((await prov.listInstances({})).instances.map((i) => i.id)).not.toContain(id);
    // The name is free again once deleted.
    await prov.createInstance({ name: "vm-1", arch: Arch.AMD64, provider: "fake" });
  });

  test("provider none returns the token to the operator; delete revokes the node's certificate", async () => {
    const n = await enrollTestNode(hub, "metal-1");
    await n.client.heartbeat({ bootId: "b" });
    await operatorClient(hub, ProvisionService).deleteInstance({ id: n.id });
    const err = await n.client.heartbeat({ bootId: "b" }).catch((e) => ConnectError.from(e));
    expect((err as ConnectError).code).toBe(Code.Unauthenticated);
  });

  test.each([
    [
      { name: "Bad_Name", arch: Arch.AMD64, provider: "none" },
      Code.InvalidArgument,
      "name: \"Bad_Name\" must be 1-63 of a-z, 0-9, '-'",
    ],
    [
      { name: "ok", arch: Arch.UNSPECIFIED, provider: "none" },
      Code.InvalidArgument,
      "arch: required (ARCH_AMD64 or ARCH_ARM64)",
    ],
    [
      { name: "ok", arch: Arch.AMD64, provider: "vmware" },
      Code.FailedPrecondition,
      'provider: "vmware" is not registered (have: fake, none)',
    ],
    [
      { name: "ok", arch: Arch.AMD64, provider: "none", network: "bridge" },
      Code.InvalidArgument,
      'network: "user", "tap:<ifname>" or "lab:<netns>:<bridge>"',
    ],
    [
      { name: "ok", arch: Arch.AMD64, provider: "none", memoryMib: 1 },
      Code.InvalidArgument,
      "memory_mib: must be 128 to 1048576",
    ],
  ])("CreateInstance rejects %j", async (req, code, message) => {
    const err = await operatorClient(hub, ProvisionService)
      .createInstance(req)
      .catch((e) => ConnectError.from(e));
    expect({ code: (err as ConnectError).code, message: (err as ConnectError).rawMessage }).toEqual({
      code,
      message,
    });
  });

  test("duplicate names are AlreadyExists; unknown ids NotFound; start of a running instance FailedPrecondition", async () => {
    const prov = operatorClient(hub, ProvisionService);
    await prov.createInstance({ name: "dup", arch: Arch.AMD64, provider: "none" });
    const dup = await prov
      .createInstance({ name: "dup", arch: Arch.AMD64, provider: "none" })
      .catch((e) => ConnectError.from(e));
    expect((dup as ConnectError).code).toBe(Code.AlreadyExists);
    const nf = await prov
      .getInstance({ id: "00000000-0000-4000-8000-000000000000" })
      .catch((e) => ConnectError.from(e));
    expect((nf as ConnectError).code).toBe(Code.NotFound);
    const started = await prov.createInstance({
      name: "twice",
      arch: Arch.AMD64,
      provider: "fake",
      start: true,
    });
    const again = await prov
      .startInstance({ id: started.instance?.id ?? "" })
      .catch((e) => ConnectError.from(e));
    expect((again as ConnectError).code).toBe(Code.FailedPrecondition);
  });

  test("an instance whose provider is not registered can still be deleted (record only, with a warning)", async () => {
    const prov = operatorClient(hub, ProvisionService);
    const created = await prov.createInstance({ name: "orphan", arch: Arch.AMD64, provider: "none" });
    const id = created.instance?.id ?? "";
    await hub.deps.db.update(instances).set({ provider: "gone" }).where(eq(instances.id, id));
    await prov.deleteInstance({ id });
    expect((await prov.getInstance({ id })).instance?.state).toBe(NodeState.DELETED);
    const kinds = (await operatorClient(hub, FleetService).listEvents({ nodeId: id })).events.map(
      (e) => e.kind,
    );
    expect(kinds).toContain("system.instance.provider_missing");
  });

  test("without a token every operator service is Unauthenticated", async () => {
    const anon = operatorClient(hub, ProvisionService, "");
    const err = await anon.listInstances({}).catch((e) => ConnectError.from(e));
    expect((err as ConnectError).code).toBe(Code.Unauthenticated);
    const wrong = operatorClient(hub, ProvisionService, "pna_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    const err2 = await wrong
      .createInstance({ name: "x", arch: Arch.AMD64 })
      .catch((e) => ConnectError.from(e));
    expect((err2 as ConnectError).code).toBe(Code.Unauthenticated);
  });
});
