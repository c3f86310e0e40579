import { expect, test } from "bun:test";
import type { HostBridge } from "@powernode/proto";
import { ovsDaemonArgv, parseOvsJson, vsctlArgv } from "../../sys/ovs.ts";
import { observeOvs, planOvs } from "./ovs-plan.ts";

/** ovs-vsctl --format=json list output as Open vSwitch 3.1 prints it (trimmed to the columns read). */
const list = (headings: string[], data: unknown[][]) => JSON.stringify({ headings, data });
const observed = () =>
  observeOvs({
    bridge: parseOvsJson(
      list(
        ["_uuid", "name", "ports", "ipfix"],
        [
          [
            ["uuid", "b1"],
            "pwnbr-2",
            [
              "set",
              [
                ["uuid", "p1"],
                ["uuid", "p2"],
                ["uuid", "p3"],
              ],
            ],
            ["uuid", "i1"],
          ],
          [["uuid", "b2"], "pwnbr-7", ["uuid", "p4"], ["set", []]],
          [["uuid", "b3"], "br-int", ["set", []], ["set", []]],
        ],
      ),
    ),
    port: parseOvsJson(
      list(
        ["_uuid", "name"],
        [
          [["uuid", "p1"], "pwnbr-2"],
          [["uuid", "p2"], "vx0123456789ab"],
          [["uuid", "p3"], "vxffffffffffff"],
          [["uuid", "p4"], "pwnbr-7"],
        ],
      ),
    ),
    interface: parseOvsJson(
      list(
        ["_uuid", "name", "type", "options"],
        [
          [["uuid", "f1"], "pwnbr-2", "internal", ["map", []]],
          [
            ["uuid", "f2"],
            "vx0123456789ab",
            "vxlan",
            [
              "map",
              [
                ["key", "2"],
                ["local_ip", "fd00::1"],
                ["remote_ip", "fd00::9"],
              ],
            ],
          ],
        ],
      ),
    ),
    ipfix: parseOvsJson(
      list(["_uuid", "obs_domain_id", "sampling", "targets"], [[["uuid", "i1"], 77, 64, "10.0.2.2:4739"]]),
    ),
  });

const bridge = (over: Partial<HostBridge>): HostBridge =>
  ({ name: "pwnbr-2", kind: "ovs", state: "active", tunnels: [], ...over }) as HostBridge;
const tunnel = (name: string, remoteIp: string) =>
  ({
    name,
    remoteIp,
    localIp: "fd00::1",
    key: 2,
    peerNodeId: "p",
    networkId: "n",
  }) as HostBridge["tunnels"][number];

test("observeOvs joins bridges to their port names and IPFIX rows", () => {
  const seen = observed();
  expect(seen.bridges.get("pwnbr-2")).toEqual({
    ports: ["pwnbr-2", "vx0123456789ab", "vxffffffffffff"],
    ipfix: { targets: ["10.0.2.2:4739"], sampling: 64, domain: 77 },
  });
  expect(seen.bridges.get("pwnbr-7")).toEqual({ ports: ["pwnbr-7"] });
  expect(seen.interfaces.get("vx0123456789ab")?.options.remote_ip).toBe("fd00::9");
});

test("the database matching the section: no commands (a draining bridge: deleted once)", () => {
  const b = bridge({
    tunnels: [tunnel("vx0123456789ab", "fd00::9"), tunnel("vxffffffffffff", "fd00::8")],
    ipfix: { targets: ["10.0.2.2:4739"], sampling: 64, observationDomainId: 77 } as HostBridge["ipfix"],
  });
  const seen = observed();
  seen.interfaces.set("vxffffffffffff", {
    type: "vxlan",
    options: { key: "2", local_ip: "fd00::1", remote_ip: "fd00::8" },
  });
  expect(planOvs([b], seen)).toEqual([["--if-exists", "del-br", "pwnbr-7"]]);
  expect(planOvs([b, bridge({ name: "pwnbr-7", state: "draining" })], seen)).toEqual([
    ["--if-exists", "del-br", "pwnbr-7"],
  ]);
  seen.bridges.delete("pwnbr-7");
  expect(planOvs([b, bridge({ name: "pwnbr-7", state: "draining" })], seen)).toEqual([]);
});

test("add, re-point, delete, IPFIX set and cleared; stale pwnbr OVS bridges deleted, others untouched (golden)", () => {
  const plan = planOvs(
    [
      bridge({
        tunnels: [tunnel("vx0123456789ab", "fd00::10"), tunnel("vxaaaaaaaaaaaa", "fd00::11")],
        ipfix: {
          targets: ["[fd00::1]:4739", "10.0.2.2:4739"],
          sampling: 1,
          observationDomainId: 77,
        } as HostBridge["ipfix"],
      }),
      bridge({ name: "pwnbr-3" }),
      bridge({ name: "pwnbr-4", kind: "linux" }),
    ],
    observed(),
  );
  expect(plan).toEqual([
    [
      "set",
      "interface",
      "vx0123456789ab",
      "type=vxlan",
      'options={key="2",local_ip="fd00::1",remote_ip="fd00::10"}',
    ],
    [
      "--may-exist",
      "add-port",
      "pwnbr-2",
      "vxaaaaaaaaaaaa",
      "--",
      "set",
      "interface",
      "vxaaaaaaaaaaaa",
      "type=vxlan",
      "options:key=2",
      "options:local_ip=fd00::1",
      "options:remote_ip=fd00::11",
    ],
    ["--if-exists", "del-port", "pwnbr-2", "vxffffffffffff"],
    [
      "--",
      "--id=@i",
      "create",
      "ipfix",
      'targets=["10.0.2.2:4739","[fd00::1]:4739"]',
      "sampling=1",
      "obs_domain_id=77",
      "--",
      "set",
      "bridge",
      "pwnbr-2",
      "ipfix=@i",
    ],
    ["--may-exist", "add-br", "pwnbr-3"],
    ["--if-exists", "del-br", "pwnbr-7"],
  ]);
  // No collector any more: the export is cleared.
  expect(planOvs([bridge({})], observed())).toContainEqual(["clear", "bridge", "pwnbr-2", "ipfix"]);
});

test("daemon and ovs-vsctl argv; bad JSON is refused", () => {
  expect(ovsDaemonArgv("ovsdb-server").slice(0, 3)).toEqual([
    "/usr/sbin/ovsdb-server",
    "/etc/openvswitch/conf.db",
    "--remote=punix:/var/run/openvswitch/db.sock",
  ]);
  expect(ovsDaemonArgv("ovs-vswitchd").slice(0, 2)).toEqual([
    "/usr/lib/openvswitch-switch/ovs-vswitchd",
    "unix:/var/run/openvswitch/db.sock",
  ]);
  expect(vsctlArgv(["list-br"])).toEqual([
    "/usr/bin/ovs-vsctl",
    "--db=unix:/var/run/openvswitch/db.sock",
    "--timeout=20",
    "list-br",
  ]);
  expect(() => parseOvsJson('{"rows":[]}')).toThrow("no headings and data");
  expect(() => parseOvsJson("not json")).toThrow();
});
