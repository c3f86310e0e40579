import { expect, test } from "bun:test";
import { bridgeName, defaultBridgeKind, suggestNetworkProfile } from "./profile.ts";
import { type BridgeView, compileSdwanSection, ipfixExport, ipfixTarget } from "./section.ts";

const bridge = (over: Partial<BridgeView>): BridgeView => ({
  id: "b1",
  nodeId: "n1",
  shortId: 1,
  name: "pwnbr-1",
  kind: "linux",
  state: "active",
  ...over,
});

test("the section: removed bridges left out, draining listed, IPFIX on active OVS bridges only (golden)", () => {
  const s = compileSdwanSection(
    [
      bridge({ id: "b3", shortId: 3, name: "pwnbr-3", kind: "ovs", state: "draining" }),
      bridge({ id: "b2", shortId: 2, name: "pwnbr-2", kind: "ovs" }),
      bridge({}),
      bridge({ id: "b4", shortId: 4, name: "pwnbr-4", state: "removed" }),
    ],
    [
      { name: "b", host: "fd00::1", port: 4739, sampling: 64 },
      { name: "a", host: "10.0.0.1", port: 4739, sampling: 128 },
    ],
  );
  expect(s).toEqual({
    bridges: [
      { id: "b1", nodeId: "n1", shortId: 1, name: "pwnbr-1", kind: "linux", state: "active" },
      {
        id: "b2",
        nodeId: "n1",
        shortId: 2,
        name: "pwnbr-2",
        kind: "ovs",
        state: "active",
        ipfix: { targets: ["10.0.0.1:4739", "[fd00::1]:4739"], sampling: 64 },
      },
      { id: "b3", nodeId: "n1", shortId: 3, name: "pwnbr-3", kind: "ovs", state: "draining" },
    ],
  });
});

test("no collector: no ipfix anywhere; IPv6 hosts bracketed", () => {
  expect(compileSdwanSection([bridge({ kind: "ovs" })], []).bridges?.[0]).not.toHaveProperty("ipfix");
  expect(ipfixExport([])).toBeUndefined();
  expect(ipfixTarget("fd00::1", 4739)).toBe("[fd00::1]:4739");
  expect(ipfixTarget("collector.lab", 2055)).toBe("collector.lab:2055");
});

test("profiles: the size suggests one, the profile picks the bridge kind; names fit an interface", () => {
  expect(suggestNetworkProfile({ vcpus: 4, memoryMib: 8192 }).profile).toBe("heavyweight");
  expect(suggestNetworkProfile({ vcpus: 8, memoryMib: 4096 })).toEqual({
    profile: "lightweight",
    reason: "8 vCPUs and 4096 MiB: heavyweight needs >= 4 and >= 8192",
  });
  expect(defaultBridgeKind("heavyweight")).toBe("ovs");
  expect(defaultBridgeKind("lightweight")).toBe("linux");
  expect(defaultBridgeKind(null)).toBe("linux");
  expect(bridgeName(1)).toBe("pwnbr-1");
  expect(bridgeName(999_999_999).length).toBe(15);
  expect(() => bridgeName(0)).toThrow("bridge short id 0");
  expect(() => bridgeName(1_000_000_000)).toThrow("not 1..999999999");
});
