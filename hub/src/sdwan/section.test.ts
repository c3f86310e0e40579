import { expect, test } from "bun:test";
import { observationDomain, segmentAddress, tunnelName, tunnelsFor } from "./ovs-segment.ts";
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
        ipfix: {
          targets: ["10.0.0.1:4739", "[fd00::1]:4739"],
          sampling: 64,
          observationDomainId: observationDomain("n1"),
        },
        address: segmentAddress(2, "n1"),
        tunnels: [],
      },
      { id: "b3", nodeId: "n1", shortId: 3, name: "pwnbr-3", kind: "ovs", state: "draining" },
    ],
  });
});

test("no collector: no ipfix anywhere; IPv6 hosts bracketed", () => {
  expect(compileSdwanSection([bridge({ kind: "ovs" })], []).bridges?.[0]).not.toHaveProperty("ipfix");
  expect(ipfixExport([], "n1")).toBeUndefined();
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

test("OVS segments: same-numbered active OVS bridges of nodes sharing a network get VXLAN ports (golden)", () => {
  const peer = (nodeId: string, networkId: string, ovsShortIds: number[]) => ({
    nodeId,
    networkId,
    localIp: `fd00:${networkId}::1`,
    remoteIp: `fd00:${networkId}::${nodeId}`,
    ovsShortIds,
  });
  const peers = [peer("c", "2", [1]), peer("b", "2", [1, 2]), peer("b", "1", [1, 2]), peer("d", "1", [2])];
  // b is reached over network 1 (the first shared one), c over 2; d has no bridge 1.
  expect(tunnelsFor(1, peers)).toEqual([
    {
      name: tunnelName(1, "b"),
      remoteIp: "fd00:1::b",
      localIp: "fd00:1::1",
      key: 1,
      peerNodeId: "b",
      networkId: "1",
    },
    {
      name: tunnelName(1, "c"),
      remoteIp: "fd00:2::c",
      localIp: "fd00:2::1",
      key: 1,
      peerNodeId: "c",
      networkId: "2",
    },
  ]);
  expect(tunnelsFor(2, peers).map((t) => t.peerNodeId)).toEqual(["b", "d"]);
  expect(tunnelName(1, "b")).toMatch(/^vx[0-9a-f]{12}$/);
  expect(tunnelName(1, "b")).not.toBe(tunnelName(2, "b"));
  // Linux, draining and removed bridges get none.
  const s = compileSdwanSection(
    [bridge({}), bridge({ id: "b2", shortId: 2, name: "pwnbr-2", kind: "ovs", state: "draining" })],
    [],
    peers,
  );
  expect(s.bridges?.every((b) => !("tunnels" in b) && !("address" in b))).toBe(true);
});

test("segment addresses: one /64 per short id, a host part per node; observation domains never 0", () => {
  const a1 = segmentAddress(1, "node-a");
  expect(a1).toMatch(/^fd[0-9a-f]{2}:[0-9a-f]{1,4}:[0-9a-f]{1,4}:1:[0-9a-f:]+\/64$/);
  expect(segmentAddress(1, "node-a")).toBe(a1);
  const prefix = (a: string) => a.split(":").slice(0, 4).join(":");
  expect(prefix(segmentAddress(1, "node-b"))).toBe(prefix(a1));
  expect(segmentAddress(1, "node-b")).not.toBe(a1);
  expect(prefix(segmentAddress(2, "node-a"))).not.toBe(prefix(a1));
  expect(observationDomain("node-a")).toBeGreaterThan(0);
  expect(observationDomain("node-a")).not.toBe(observationDomain("node-b"));
});
