import { describe, expect, test } from "bun:test";
import { create } from "@bufbuild/protobuf";
import { Arch, DeviceFactsSchema } from "@powernode/proto";
import { claimCodeField, newClaimCode } from "./claim-code.ts";
import { deviceKeyOf, parseDeviceFacts } from "./facts-input.ts";

const good = {
  macs: ["DC:A6:32:01:02:03", "dc:a6:32:01:02:04"],
  dmiUuid: "",
  serial: "10000000abcdef01",
  arch: Arch.ARM64,
  platformHint: "rpi4",
  model: "Raspberry Pi 4 Model B Rev 1.4",
  cpus: 4,
  memoryMib: 3800,
  agentVersion: "0.1.0",
};
const facts = (over: Partial<typeof good> = {}) => create(DeviceFactsSchema, { ...good, ...over });
const refusal = (over: Partial<typeof good>) => {
  try {
    parseDeviceFacts(facts(over));
  } catch (e) {
    return (e as Error).message;
  }
  return "accepted";
};

describe("parseDeviceFacts", () => {
  test("good facts: MACs lower-cased, the key prefers DMI UUID, then serial, then the first MAC", () => {
    const f = parseDeviceFacts(facts());
    expect(f.macs).toEqual(["dc:a6:32:01:02:03", "dc:a6:32:01:02:04"]);
    expect(f.arch).toBe("arm64");
    expect(deviceKeyOf(f)).toBe("serial:10000000abcdef01");
    const dmi = "4C4C4544-0042-3510-8052-B4C04F4E3332";
    expect(deviceKeyOf(parseDeviceFacts(facts({ dmiUuid: dmi })))).toBe(`dmi:${dmi.toLowerCase()}`);
    expect(deviceKeyOf(parseDeviceFacts(facts({ serial: "" })))).toBe("mac:dc:a6:32:01:02:03");
  });

  test("each bad field is refused by name", () => {
    expect(parseDeviceFacts.bind(null, undefined)).toThrow(/^facts: required/);
    expect(refusal({ macs: [] })).toMatch(/^facts\.macs: at least one/);
    expect(refusal({ macs: ["dc:a6:32:01:02:03", "zz"] })).toMatch(/^facts\.macs\[1\]: "zz" is not a MAC/);
    expect(refusal({ macs: ["01:00:5e:00:00:01"] })).toMatch(/^facts\.macs\[0\]: .* multicast/);
    expect(refusal({ macs: ["00:00:00:00:00:00"] })).toMatch(/^facts\.macs\[0\]: .* not a unicast/);
    expect(refusal({ macs: ["dc:a6:32:01:02:03", "DC:A6:32:01:02:03"] })).toMatch(
      /^facts\.macs: lists a MAC/,
    );
    expect(
      refusal({ macs: Array.from({ length: 17 }, (_, i) => `02:00:00:00:00:${(i + 16).toString(16)}`) }),
    ).toMatch(/^facts\.macs: more than 16/);
    expect(refusal({ dmiUuid: "not-a-uuid" })).toMatch(/^facts\.dmi_uuid: is not a UUID/);
    expect(refusal({ serial: "a b" })).toMatch(/^facts\.serial:/);
    expect(refusal({ arch: Arch.UNSPECIFIED })).toMatch(/^facts\.arch:/);
    expect(refusal({ platformHint: "Pi 4!" })).toMatch(/^facts\.platform_hint:/);
    expect(refusal({ model: "x".repeat(129) })).toMatch(/^facts\.model: longer than 128/);
    expect(refusal({ model: "bad\u001b[2J" })).toMatch(/^facts\.model: must be printable/);
    expect(refusal({ cpus: 0 })).toMatch(/^facts\.cpus: must be 1 to 1024/);
    expect(refusal({ memoryMib: 10 })).toMatch(/^facts\.memory_mib:/);
    expect(refusal({ agentVersion: "\u0000" })).toMatch(/^facts\.agent_version:/);
  });
});

describe("claim codes", () => {
  test("fresh codes are XXXX-XXXX without look-alikes and parse back in any case", () => {
    const seen = new Set<string>();
    for (let i = 0; i < 500; i++) {
      const c = newClaimCode();
      expect(c).toMatch(/^[2-9A-HJKMNP-TV-Z]{4}-[2-9A-HJKMNP-TV-Z]{4}$/);
      expect(claimCodeField("claim_code", c.toLowerCase().replace("-", ""))).toBe(c);
      seen.add(c);
    }
    expect(seen.size).toBe(500);
  });
  test("a bad code is refused naming the field", () => {
    expect(() => claimCodeField("claim_code", "0OOO-1111")).toThrow(
      /^claim_code: "0OOO-1111" is not a claim code/,
    );
    expect(() => claimCodeField("claim_code", "")).toThrow(/^claim_code:/);
  });
});
