import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import {
  Arch,
  ClaimService,
  ClaimStatus,
  DeviceClaimService,
  NodeService,
  ProvisionService,
} from "@powernode/proto";
import { eq } from "drizzle-orm";
import { makeCsr, nodeTransport, operatorClient, startTestHub, waitFor } from "../../test/harness.ts";
import { fleetEvents, instances, physicalDevices } from "../db/schema/index.ts";
import type { RunningHub } from "../hub.ts";
import { DEFAULT_CLAIMS } from "./claims-config.ts";

let hub: RunningHub;
const code = (e: unknown) => ConnectError.from(e).code;
const message = (e: unknown) => ConnectError.from(e).rawMessage;
async function refusal(p: Promise<unknown>): Promise<{ code: Code; message: string }> {
  try {
    await p;
  } catch (e) {
    return { code: code(e), message: message(e) };
  }
  throw new Error("expected a refusal");
}

let serial = 0;
const facts = (over: Record<string, unknown> = {}) => {
  serial++;
  const hex = serial.toString(16).padStart(2, "0");
  return {
    macs: [`52:54:00:12:34:${hex}`],
    dmiUuid: `00000000-0000-4000-8000-0000000000${hex}`,
    serial: "",
    arch: Arch.AMD64,
    platformHint: "qemu",
    model: "Standard PC (Q35 + ICH9, 2009)",
    cpus: 2,
    memoryMib: 2048,
    agentVersion: "0.1.0-test",
    ...over,
  };
};

beforeAll(async () => {
  hub = await startTestHub();
}, 30_000);
afterAll(async () => {
  await hub.stop();
});

const devices = () => createClient(DeviceClaimService, nodeTransport(hub));
const operator = () => operatorClient(hub, ClaimService);

describe("claim flow", () => {
  test("discover -> pending with a code -> confirm -> claimed, token, instance; the node enrolls", async () => {
    await operatorClient(hub, ProvisionService).createTemplate({ name: "bare-metal", modules: [] });
    const f = facts();
    const d = await devices().discoverDevice({ facts: f });
    expect(d.claimCode).toMatch(/^[2-9A-Z]{4}-[2-9A-Z]{4}$/);
    expect(d.pollSecret.length).toBeGreaterThanOrEqual(43);
    const p1 = await devices().pollClaim({ deviceId: d.deviceId, pollSecret: d.pollSecret });
    expect(p1.status).toBe(ClaimStatus.PENDING);
    expect(p1.claimCode).toBe(d.claimCode);
    expect(p1.bootstrapToken).toBe("");

    const listed = await operator().listClaims({});
    expect(listed.devices.map((x) => x.claimCode)).toContain(d.claimCode);
    expect(listed.devices.find((x) => x.id === d.deviceId)?.facts?.macs).toEqual(f.macs);

    const c = await operator().confirmClaim({ claimCode: d.claimCode.toLowerCase(), template: "bare-metal" });
    const instanceId = c.instance?.id ?? "";
    expect(c.device?.status).toBe("claimed");
    expect(c.device?.instanceId).toBe(instanceId);
    expect(c.instance?.template).toBe("bare-metal");
    expect(c.instance?.vcpus).toBe(2);
    expect(c.instance?.memoryMib).toBe(2048);
    expect(c.instance?.providerInfo.mac).toBe(f.macs[0]);

    const p2 = await devices().pollClaim({ deviceId: d.deviceId, pollSecret: d.pollSecret });
    expect(p2.status).toBe(ClaimStatus.CLAIMED);
    expect(p2.instanceUuid).toBe(instanceId);
    expect(p2.bootstrapToken.length).toBeGreaterThanOrEqual(32);
    expect(p2.platformUrl).toBe(hub.nodeUrl);

    const [row] = await hub.deps.db.select().from(physicalDevices).where(eq(physicalDevices.id, d.deviceId));
    expect(row?.instanceId).toBe(instanceId);
    expect(row?.decidedAt).toBeInstanceOf(Date);
    const [inst] = await hub.deps.db.select().from(instances).where(eq(instances.id, instanceId));
    expect(inst?.providerInfo.claim_code).toBe(d.claimCode);

    const csr = await makeCsr(instanceId);
    const enrolled = await createClient(NodeService, nodeTransport(hub)).enroll({
      bootstrapToken: p2.bootstrapToken,
      csrPem: csr.csrPem,
      instanceUuid: instanceId,
    });
    expect(enrolled.certificatePem).toContain("BEGIN CERTIFICATE");

    const kinds = await hub.deps.db
      .select({ kind: fleetEvents.kind, payload: fleetEvents.payload })
      .from(fleetEvents)
      .where(eq(fleetEvents.correlationId, d.deviceId));
    expect(kinds.map((k) => k.kind).sort()).toEqual([
      "system.physical_device.claimed",
      "system.physical_device.discovered",
    ]);
    // A second confirm of the same code is refused.
    const again = await refusal(operator().confirmClaim({ claimCode: d.claimCode, template: "bare-metal" }));
    expect(again.code).toBe(Code.FailedPrecondition);
    expect(again.message).toMatch(/^claim_code: .* is already claimed/);
  });

  test("a wrong poll secret or an unknown device gets not_found, never the token", async () => {
    const d = await devices().discoverDevice({ facts: facts() });
    const wrong = await refusal(devices().pollClaim({ deviceId: d.deviceId, pollSecret: "pnc_nope" }));
    expect(wrong.code).toBe(Code.NotFound);
    const unknown = await refusal(
      devices().pollClaim({ deviceId: crypto.randomUUID(), pollSecret: d.pollSecret }),
    );
    expect(unknown.code).toBe(Code.NotFound);
    expect(unknown.message).toBe(wrong.message);
  });

  test("known hardware: confirm --instance binds the instance made beforehand; the checks name why not", async () => {
    // Its own hub: the four discoveries here would eat the shared hub's per-source burst.
    await using own = await startTestHub();
    const provision = operatorClient(own, ProvisionService);
    const devices = () => createClient(DeviceClaimService, nodeTransport(own));
    const operator = () => operatorClient(own, ClaimService);
    const made = await provision.createInstance({
      name: "rack-3-slot-7",
      arch: Arch.AMD64,
      provider: "none",
    });
    const id = made.instance?.id ?? "";
    const d = await devices().discoverDevice({ facts: facts() });
    const withName = await refusal(
      operator().confirmClaim({ claimCode: d.claimCode, instanceId: id, name: "x" }),
    );
    expect(withName).toEqual({
      code: Code.InvalidArgument,
      message: "name: not with instance_id (the existing instance keeps its own)",
    });
    const arm = await provision.createInstance({ name: "rack-3-slot-8", arch: Arch.ARM64, provider: "none" });
    const wrongArch = await refusal(
      operator().confirmClaim({ claimCode: d.claimCode, instanceId: arm.instance?.id ?? "" }),
    );
    expect(wrongArch.message).toBe(`instance_id: ${arm.instance?.id} is arm64, the machine reports amd64`);

    const before = (await provision.listInstances({})).instances.length;
    const c = await operator().confirmClaim({ claimCode: d.claimCode, instanceId: id });
    expect(c.instance?.id).toBe(id);
    expect((await provision.listInstances({})).instances.length).toBe(before); // none created
    const poll = await devices().pollClaim({ deviceId: d.deviceId, pollSecret: d.pollSecret });
    expect([poll.status, poll.instanceUuid]).toEqual([ClaimStatus.CLAIMED, id]);
    expect(poll.bootstrapToken.length).toBeGreaterThanOrEqual(32);

    // Bound now: a second machine cannot take it.
    const other = await devices().discoverDevice({ facts: facts() });
    const taken = await refusal(operator().confirmClaim({ claimCode: other.claimCode, instanceId: id }));
    expect(taken.message).toBe(`instance_id: ${id} is bound to machine ${d.claimCode} already`);
  }, 30_000);

  test("rediscovery makes a new code and expires the old one", async () => {
    const f = facts();
    const a = await devices().discoverDevice({ facts: f });
    const b = await devices().discoverDevice({ facts: f });
    expect(b.claimCode).not.toBe(a.claimCode);
    const old = await devices().pollClaim({ deviceId: a.deviceId, pollSecret: a.pollSecret });
    expect(old.status).toBe(ClaimStatus.EXPIRED);
    const r = await refusal(operator().confirmClaim({ claimCode: a.claimCode }));
    expect(r.code).toBe(Code.FailedPrecondition);
    expect(r.message).toMatch(/expired/);
  });

  test("reject: polls say rejected with the reason, the hardware may not ask again yet", async () => {
    const f = facts();
    const d = await devices().discoverDevice({ facts: f });
    const r = await operator().rejectClaim({ claimCode: d.claimCode, reason: "not ours" });
    expect(r.device?.status).toBe("rejected");
    const p = await devices().pollClaim({ deviceId: d.deviceId, pollSecret: d.pollSecret });
    expect(p.status).toBe(ClaimStatus.REJECTED);
    expect(p.rejectReason).toBe("not ours");
    const again = await refusal(devices().discoverDevice({ facts: f }));
    expect(again.code).toBe(Code.PermissionDenied);
    expect(again.message).toMatch(/^facts: this device .* was rejected/);
    expect((await operator().listClaims({})).devices.map((x) => x.id)).not.toContain(d.deviceId);
    expect(
      (await operator().listClaims({ all: true })).devices.find((x) => x.id === d.deviceId)?.status,
    ).toBe("rejected");
  });

  test("bad facts are refused naming the field; nothing is recorded", async () => {
    const before = (await hub.deps.db.select().from(physicalDevices)).length;
    const bad = await refusal(devices().discoverDevice({ facts: facts({ macs: ["nope"] }) }));
    expect(bad.code).toBe(Code.InvalidArgument);
    expect(bad.message).toMatch(/^facts\.macs\[0\]:/);
    const arch = await refusal(devices().discoverDevice({ facts: facts({ arch: Arch.UNSPECIFIED }) }));
    expect(arch.message).toMatch(/^facts\.arch:/);
    const none = await refusal(devices().discoverDevice({}));
    expect(none.message).toMatch(/^facts: required/);
    expect((await hub.deps.db.select().from(physicalDevices)).length).toBe(before);
  });

  test("the device service is refused on the operator (plain HTTP) listener", async () => {
    const r = await refusal(operatorClient(hub, DeviceClaimService).discoverDevice({ facts: facts() }));
    expect(r.code).toBe(Code.FailedPrecondition);
  });
});

describe("expiry and rate limit", () => {
  let short: RunningHub;
  beforeAll(async () => {
    short = await startTestHub({ claims: { ...DEFAULT_CLAIMS, ttlSeconds: 1, discoverBurst: 3 } });
  }, 30_000);
  afterAll(async () => {
    await short.stop();
  });

  test("a code not confirmed within its TTL expires: polls say so, confirm is refused", async () => {
    const c = createClient(DeviceClaimService, nodeTransport(short));
    const d = await c.discoverDevice({ facts: facts() });
    await waitFor(
      "the claim to expire",
      async () => {
        const p = await c.pollClaim({ deviceId: d.deviceId, pollSecret: d.pollSecret });
        return p.status === ClaimStatus.EXPIRED ? p : undefined;
      },
      5000,
    );
    const r = await refusal(operatorClient(short, ClaimService).confirmClaim({ claimCode: d.claimCode }));
    expect(r.code).toBe(Code.FailedPrecondition);
    expect(r.message).toMatch(/^claim_code: .* expired at/);
  });

  test("discoveries past the burst are refused with resource_exhausted (loopback is not exempt)", async () => {
    const c = createClient(DeviceClaimService, nodeTransport(short));
    // One was spent by the expiry test.
    await c.discoverDevice({ facts: facts() });
    await c.discoverDevice({ facts: facts() });
    const r = await refusal(c.discoverDevice({ facts: facts() }));
    expect(r.code).toBe(Code.ResourceExhausted);
    expect(r.message).toMatch(/^rate limit: 127\.0\.0\.1 is over 6 discoveries a minute \(burst 3\)/);
  });
});
