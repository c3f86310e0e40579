/** FRR's JSON (trimmed from FRR 8.4's real output) read into per-VRF sessions and installed routes. */
import { expect, test } from "bun:test";
import { establishedPeers, installedBgpRoutes, routingKey } from "./frr-state.ts";

const peer = (state: string) => ({ remoteAs: 4200000001, localAs: 4200000001, state, peerState: "OK" });

test("sessions: Established peers per VRF, others left out; not JSON is an error naming the command", () => {
  const summary = JSON.stringify({
    "vrf-aaaaaa": { routerId: "9.1.2.3", as: 4200000001, peers: { "fd12::2": peer("Established") } },
    "vrf-bbbbbb": { peers: { "fd34::3": peer("Active"), "fd34::2": peer("Established") } },
    "vrf-cccccc": { peers: "junk" },
  });
  expect(establishedPeers(summary)).toEqual(
    new Map([
      ["vrf-aaaaaa", ["fd12::2"]],
      ["vrf-bbbbbb", ["fd34::2"]],
      ["vrf-cccccc", []],
    ]),
  );
  expect(() => establishedPeers("% Unknown command")).toThrow(/^bgp summary: not JSON/);
  expect(() => establishedPeers("[]")).toThrow("bgp summary: not a JSON object");
});

const route = (protocol: string, table: number, nexthops: object[], installed = true) => [
  { protocol, vrfName: "vrf-bbbbbb", selected: true, installed, table, nexthops },
];

test("routes: installed BGP routes of the VRF's table, learned (next hop here) or imported (another VRF)", () => {
  const hop = {
    flags: 3,
    fib: true,
    ip: "fd34::2",
    afi: "ipv6",
    interfaceName: "wg-sdwan-bbbbbb",
    active: true,
  };
  const json = JSON.stringify({
    "fd34::/64": route("connected", 1001, [{ directlyConnected: true, interfaceName: "wg-sdwan-bbbbbb" }]),
    "fdab:1:2:3:4:5:6:7/128": route("bgp", 1001, [hop]),
    "fdcd:1:2:3:4:5:6:7/128": route("bgp", 1001, [
      { ...hop, ip: "fd12::2", interfaceName: "wg-sdwan-aaaaaa" },
    ]),
    "fdcd::8/128": route("bgp", 1001, [{ ...hop, ip: "fd12::2", vrf: "vrf-aaaaaa" }]),
    "fdef::1/128": route("bgp", 1001, [hop], false),
    "fdee::1/128": route("bgp", 1002, [hop]),
    "fd99::/64": "junk",
  });
  const b = { name: "vrf-bbbbbb", table: 1001, interfaceName: "wg-sdwan-bbbbbb" };
  expect(installedBgpRoutes(json, b)).toEqual({
    learned: ["fdab:1:2:3:4:5:6:7/128"],
    imported: ["fdcd:1:2:3:4:5:6:7/128", "fdcd::8/128"],
    hops: [
      "fdab:1:2:3:4:5:6:7/128 via fd34::2 dev wg-sdwan-bbbbbb",
      "fdcd:1:2:3:4:5:6:7/128 via fd12::2 dev wg-sdwan-aaaaaa",
      "fdcd::8/128 via fd12::2 dev wg-sdwan-bbbbbb vrf vrf-aaaaaa",
    ],
  });
  expect(installedBgpRoutes("{}", b)).toEqual({ learned: [], imported: [], hops: [] });
  expect(() => installedBgpRoutes("", b)).toThrow(/^routes of vrf-bbbbbb: not JSON/);
  expect(routingKey({ vrf: "v", established: ["a"], learned: ["p", "q"], imported: [] })).toBe("a|p,q|");
});
