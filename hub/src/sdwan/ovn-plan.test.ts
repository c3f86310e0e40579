import { expect, test } from "bun:test";
import { ovnPlan, planDigest, portMac } from "./ovn-plan.ts";

const input = {
  switches: [
    { name: "ls-web", subnet: "10.20.0.0/24" },
    { name: "ls-app", subnet: "10.10.0.0/24" },
  ],
  routers: [{ name: "lr-edge" }],
  ports: [
    {
      name: "lsp-vm-002",
      switchName: "ls-app",
      kind: "vm" as const,
      nodeId: "n2",
      address: "10.10.0.6",
      mac: "02:00:00:00:00:06",
      prefixLength: 24,
    },
    {
      name: "lsp-vm-001",
      switchName: "ls-app",
      kind: "vm" as const,
      nodeId: "n1",
      address: "10.10.0.5",
      mac: "02:00:00:00:00:05",
      prefixLength: 24,
    },
    {
      name: "app-rtr",
      switchName: "ls-app",
      kind: "router" as const,
      routerName: "lr-edge",
      address: "10.10.0.1",
      mac: "02:00:00:00:00:01",
      prefixLength: 24,
    },
  ],
  acls: [
    {
      switchName: "ls-app",
      direction: "to-lport" as const,
      priority: 1000,
      match: "tcp.dst == 22",
      action: "drop" as const,
    },
    {
      switchName: "ls-app",
      direction: "from-lport" as const,
      priority: 1001,
      match: "ip4",
      action: "allow-related" as const,
    },
  ],
};

test("the plan: switches, routers, ports by switch and name, ACLs by priority; ls-add before lsp-add (golden)", () => {
  expect(ovnPlan(input)).toEqual([
    ["--may-exist", "ls-add", "ls-app"],
    ["set", "logical_switch", "ls-app", "other_config:subnet=10.10.0.0/24"],
    ["--may-exist", "ls-add", "ls-web"],
    ["set", "logical_switch", "ls-web", "other_config:subnet=10.20.0.0/24"],
    ["--may-exist", "lr-add", "lr-edge"],
    ["--may-exist", "lrp-add", "lr-edge", "lrp-app-rtr", "02:00:00:00:00:01", "10.10.0.1/24"],
    ["--may-exist", "lsp-add", "ls-app", "app-rtr"],
    ["lsp-set-type", "app-rtr", "router"],
    ["lsp-set-addresses", "app-rtr", "router"],
    ["lsp-set-options", "app-rtr", "router-port=lrp-app-rtr"],
    ["--may-exist", "lsp-add", "ls-app", "lsp-vm-001"],
    ["lsp-set-addresses", "lsp-vm-001", "02:00:00:00:00:05 10.10.0.5"],
    ["set", "logical_switch_port", "lsp-vm-001", "options:requested-chassis=n1"],
    ["--may-exist", "lsp-add", "ls-app", "lsp-vm-002"],
    ["lsp-set-addresses", "lsp-vm-002", "02:00:00:00:00:06 10.10.0.6"],
    ["set", "logical_switch_port", "lsp-vm-002", "options:requested-chassis=n2"],
    ["--may-exist", "acl-add", "ls-app", "from-lport", "1001", "ip4", "allow-related"],
    ["--may-exist", "acl-add", "ls-app", "to-lport", "1000", "tcp.dst == 22", "drop"],
  ]);
});

test("recompiling from the rows in another order gives a byte-equal plan", () => {
  const shuffled = {
    switches: [...input.switches].reverse(),
    routers: input.routers,
    ports: [...input.ports].reverse(),
    acls: [...input.acls].reverse(),
  };
  expect(planDigest(ovnPlan(shuffled))).toBe(planDigest(ovnPlan(input)));
  expect(JSON.stringify(ovnPlan(shuffled))).toBe(JSON.stringify(ovnPlan(input)));
});

test("port MACs: 02: (locally administered, unicast), stable per port id", () => {
  const m = portMac("7b0d2e43-7c1a-4a38-9f7e-0a0b0c0d0e0f");
  expect(m).toMatch(/^02(:[0-9a-f]{2}){5}$/);
  expect(portMac("7b0d2e43-7c1a-4a38-9f7e-0a0b0c0d0e0f")).toBe(m);
  expect(portMac("another")).not.toBe(m);
});
