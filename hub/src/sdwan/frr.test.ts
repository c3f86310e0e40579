import { expect, test } from "bun:test";
import { derivedAsn, frrConfig, PRIVATE_ASN_MAX, PRIVATE_ASN_MIN, routerId } from "./frr.ts";
import { nextTable } from "./vrf.ts";

const node = { id: "0b7e6c2a-1f3d-4c5e-9a8b-7c6d5e4f3a2b", name: "edge-1" };
const a = {
  vrfName: "vrf-aaaaaa",
  networkId: "net-a",
  networkName: "a",
  asn: 65001,
  neighbors: ["fd00:a::3", "fd00:a::2"],
};
const b = { vrfName: "vrf-bbbbbb", networkId: "net-b", networkName: "b", asn: 65002, neighbors: [] };

test("two VRFs and a leak a -> b: vrf definitions, one router bgp per VRF, then the import into b (golden)", () => {
  expect(
    frrConfig(node, [b, a], [{ fromVrf: "vrf-aaaaaa", toVrf: "vrf-bbbbbb", prefix: "fd00:a::/64" }]),
  ).toBe(
    [
      "! written by the powernode hub for edge-1: edits are replaced",
      "frr defaults datacenter",
      "hostname edge-1",
      "log stdout informational",
      "!",
      "vrf vrf-aaaaaa",
      "exit-vrf",
      "!",
      "vrf vrf-bbbbbb",
      "exit-vrf",
      "!",
      "ipv6 prefix-list leak-vrf-aaaaaa-vrf-bbbbbb seq 5 permit fd00:a::/64 le 128",
      "!",
      "route-map import-into-vrf-bbbbbb permit 10",
      " match ipv6 address prefix-list leak-vrf-aaaaaa-vrf-bbbbbb",
      "exit",
      "!",
      "router bgp 65001 vrf vrf-aaaaaa",
      " ! network a (net-a)",
      ` bgp router-id ${routerId(node.id)}`,
      " no bgp default ipv4-unicast",
      " no bgp ebgp-requires-policy",
      " neighbor fd00:a::2 remote-as internal",
      " neighbor fd00:a::3 remote-as internal",
      " !",
      " address-family ipv6 unicast",
      "  redistribute connected",
      "  neighbor fd00:a::2 activate",
      "  neighbor fd00:a::3 activate",
      " exit-address-family",
      "exit",
      "!",
      "router bgp 65002 vrf vrf-bbbbbb",
      " ! network b (net-b)",
      ` bgp router-id ${routerId(node.id)}`,
      " no bgp default ipv4-unicast",
      " no bgp ebgp-requires-policy",
      " !",
      " address-family ipv6 unicast",
      "  redistribute connected",
      " exit-address-family",
      "exit",
      "!",
      "router bgp 65002 vrf vrf-bbbbbb",
      " address-family ipv6 unicast",
      "  import vrf vrf-aaaaaa",
      "  import vrf route-map import-into-vrf-bbbbbb",
      " exit-address-family",
      "exit",
      "!",
      "",
    ].join("\n"),
  );
});

test("without the leak nothing is imported; a leak from a VRF this node lacks is left out; no VRFs: empty", () => {
  expect(frrConfig(node, [a, b], [])).not.toContain("import vrf");
  expect(
    frrConfig(node, [b], [{ fromVrf: "vrf-aaaaaa", toVrf: "vrf-bbbbbb", prefix: "fd00:a::/64" }]),
  ).not.toContain("import vrf");
  expect(frrConfig(node, [], [])).toBe("");
});

test("derived AS numbers are private 4-byte ones, stable; router ids stable dotted quads", () => {
  const n = derivedAsn("7b0d2e43-7c1a-4a38-9f7e-0a0b0c0d0e0f");
  expect(n).toBeGreaterThanOrEqual(PRIVATE_ASN_MIN);
  expect(n).toBeLessThanOrEqual(PRIVATE_ASN_MAX);
  expect(derivedAsn("7b0d2e43-7c1a-4a38-9f7e-0a0b0c0d0e0f")).toBe(n);
  expect(routerId(node.id)).toMatch(/^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$/);
  expect(routerId(node.id)).not.toBe("0.0.0.0");
});

test("table ids: from 1000, the lowest free, never a reserved one", () => {
  expect(nextTable([])).toBe(1000);
  expect(nextTable([1000, 1002])).toBe(1001);
  expect(nextTable([1000, 1001])).toBe(1002);
});

test("router prefixes: a ULA /64 per network, outside nothing else's; addresses per node within it", async () => {
  const { routerAddress, routerPrefix } = await import("../network/router-address.ts");
  const net = "2f1c7f52-6a34-4c0e-9b6e-0d3c5a1e8f10";
  const p = routerPrefix(net);
  expect(p).toMatch(/^fd[0-9a-f]{2}:[0-9a-f]{1,4}:[0-9a-f]{1,4}:[0-9a-f]{1,4}::\/64$/);
  expect(routerPrefix(net)).toBe(p);
  expect(routerPrefix("another")).not.toBe(p);
  const a = routerAddress(net, "node-a");
  const b = routerAddress(net, "node-b");
  expect(a).not.toBe(b);
  const head = p.replace("::/64", ":");
  expect(a.startsWith(head)).toBe(true);
  expect(b.startsWith(head)).toBe(true);
  expect(routerAddress(net, "node-a")).toBe(a);
});

test("a leak from a VRF that sorts later: every VRF's own block comes before any import", () => {
  const text = frrConfig(
    node,
    [b, a],
    [{ fromVrf: "vrf-bbbbbb", toVrf: "vrf-aaaaaa", prefix: "fd00:b::/64" }],
  );
  const lines = text.split("\n");
  const lastOwn = lines.lastIndexOf("router bgp 65002 vrf vrf-bbbbbb");
  const importAt = lines.indexOf("  import vrf vrf-bbbbbb");
  expect(lines.indexOf("router bgp 65001 vrf vrf-aaaaaa")).toBeLessThan(lastOwn);
  expect(importAt).toBeGreaterThan(lastOwn);
  expect(lines[importAt - 2]).toBe("router bgp 65001 vrf vrf-aaaaaa");
});
