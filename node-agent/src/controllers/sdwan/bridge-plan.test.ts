import { expect, test } from "bun:test";
import { bridgeAddArgs, linkDelArgs } from "../../sys/bridge.ts";
import { planBridges } from "./bridge-plan.ts";

test("linux bridges created or kept, draining and unnamed pwnbr bridges deleted, ovs not applied, others untouched", () => {
  expect(
    planBridges(
      [
        { name: "pwnbr-1", kind: "linux", state: "active" },
        { name: "pwnbr-2", kind: "linux", state: "active" },
        { name: "pwnbr-3", kind: "ovs", state: "active" },
        { name: "pwnbr-4", kind: "linux", state: "draining" },
        { name: "pwnbr-5", kind: "linux", state: "draining" },
      ],
      ["docker0", "pwnbr-2", "pwnbr-4", "pwnbr-9"],
    ),
  ).toEqual({
    create: ["pwnbr-1"],
    kept: ["pwnbr-2"],
    delete: ["pwnbr-4", "pwnbr-9"],
    unsupported: [
      { name: "pwnbr-3", reason: "ovs bridges need Open vSwitch (this agent has no OVS support)" },
    ],
  });
});

test("an empty section deletes only ours; bad names are reported, never run", () => {
  expect(planBridges([], ["br0", "pwnbr-7"]).delete).toEqual(["pwnbr-7"]);
  expect(planBridges([{ name: "eth0; rm", kind: "linux", state: "active" }], []).unsupported).toEqual([
    { name: "eth0; rm", reason: "not a pwnbr-<n> name" },
  ]);
});

test("ip argv", () => {
  expect(bridgeAddArgs("pwnbr-1")).toEqual(["link", "add", "name", "pwnbr-1", "type", "bridge"]);
  expect(linkDelArgs("pwnbr-1")).toEqual(["link", "del", "dev", "pwnbr-1"]);
  expect(() => bridgeAddArgs("a b")).toThrow("interface name");
});

test("VRFs: created with their table, the network interface enslaved once it exists, router addresses put on, stale vrf-* deleted", async () => {
  const { planVrfs } = await import("./vrf-plan.ts");
  const { vrfAddArgs, enslaveArgs } = await import("../../sys/vrf.ts");
  const masters: Record<string, string> = { "wg-sdwan-bbbbbb": "vrf-bbbbbb" };
  expect(
    planVrfs(
      [
        {
          vrfName: "vrf-aaaaaa",
          tableId: 1000,
          interfaceName: "wg-sdwan-aaaaaa",
          routerAddress: "FD12::0001",
        },
        {
          vrfName: "vrf-bbbbbb",
          tableId: 1001,
          interfaceName: "wg-sdwan-bbbbbb",
          routerAddress: "fd34::1",
        },
        { vrfName: "vrf-cccccc", tableId: 1002, interfaceName: "wg-sdwan-cccccc" },
      ],
      ["eth0", "vrf-bbbbbb", "vrf-dddddd", "wg-sdwan-aaaaaa", "wg-sdwan-bbbbbb"],
      (d) => masters[d],
      (d) => ({ "vrf-bbbbbb": ["fd34::1"], "wg-sdwan-aaaaaa": ["fd12:3456::abcd:0:0:1"] })[d] ?? [],
    ),
  ).toEqual({
    create: [
      { name: "vrf-aaaaaa", table: 1000 },
      { name: "vrf-cccccc", table: 1002 },
    ],
    enslave: [{ dev: "wg-sdwan-aaaaaa", vrf: "vrf-aaaaaa" }],
    address: [{ vrf: "vrf-aaaaaa", address: "fd12::1" }],
    linkLocal: [{ dev: "wg-sdwan-aaaaaa", address: "fe80::abcd:0:0:1" }],
    delete: ["vrf-dddddd"],
    waiting: ["wg-sdwan-cccccc"],
  });
  expect(vrfAddArgs("vrf-aaaaaa", 1000)).toEqual([
    "link",
    "add",
    "name",
    "vrf-aaaaaa",
    "type",
    "vrf",
    "table",
    "1000",
  ]);
  expect(() => vrfAddArgs("vrf-aaaaaa", 254)).toThrow("not a usable routing table");
  expect(enslaveArgs("wg-sdwan-aaaaaa", "vrf-aaaaaa")).toEqual([
    "link",
    "set",
    "dev",
    "wg-sdwan-aaaaaa",
    "master",
    "vrf-aaaaaa",
  ]);
});

test("/proc/net/if_inet6: a link's IPv6 addresses, canonical; other links and junk ignored", async () => {
  const { ipv6AddressesOf } = await import("../../sys/vrf.ts");
  const text = [
    "fd120000000000000000000000000001 07 80 00 80 vrf-aaaaaa",
    "fe800000000000000000000000000001 02 40 20 80     eth0",
    "fd340000000000000000000000000002 07 80 00 80 vrf-aaaaaa",
    "not a line",
  ].join("\n");
  expect(ipv6AddressesOf(text, "vrf-aaaaaa")).toEqual(["fd12::1", "fd34::2"]);
  expect(ipv6AddressesOf(text, "wg0")).toEqual([]);
});

test("link-local from a global address's interface id", async () => {
  const { linkLocalFor } = await import("./vrf-plan.ts");
  expect(linkLocalFor("fdc5:a21f:49d5:b7e0:57af:d802:fea:8ee6")).toBe("fe80::57af:d802:fea:8ee6");
  expect(linkLocalFor("fd12::1")).toBe("fe80::1");
});
