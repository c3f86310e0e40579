import { describe, expect, test } from "bun:test";
import {
  interfacesOnSubnet,
  labSetupCommands,
  planLab,
  tcpdumpArgv,
  udhcpdArgv,
  udhcpdConfig,
  udpPortBound,
} from "./lab-plan.ts";

const plan = planLab({ name: "site", index: 7 });

describe("planLab", () => {
  test("names and addresses of lab site on index 7", () => {
    expect(plan).toEqual({
      name: "site",
      index: 7,
      netns: "pnlab-site",
      bridge: "br0",
      hostInterface: "pnl-site",
      uplink: "uplink",
      hostAddress: "10.203.7.1",
      bridgeAddress: "10.203.7.2",
      cidr: "10.203.7.0/24",
      prefix: 24,
      dhcpStart: "10.203.7.10",
      dhcpEnd: "10.203.7.250",
      network: "lab:pnlab-site:br0",
    });
  });

  test("the longest name still gives a 15-byte host interface", () => {
    expect(planLab({ name: "abcdefghijk", index: 0 }).hostInterface).toBe("pnl-abcdefghijk");
  });

  test.each([
    [{ name: "abcdefghijkl", index: 1 }, /lab name "abcdefghijkl": use 1-11/],
    [{ name: "Site", index: 1 }, /lab name "Site"/],
    [{ name: "", index: 1 }, /lab name ""/],
    [{ name: "site", index: 256 }, /lab index 256: must be an integer 0-255/],
    [{ name: "site", index: 1.5 }, /lab index 1.5/],
  ])("rejects %p", (opts, re) => {
    expect(() => planLab(opts)).toThrow(re);
  });
});

describe("command lines", () => {
  test("setup: namespace, veth with its peer made inside, bridge, addresses, links up", () => {
    expect(labSetupCommands(plan)).toEqual([
      ["ip", "netns", "add", "pnlab-site"],
      ["ip", "link", "add", "pnl-site", "type", "veth", "peer", "name", "uplink", "netns", "pnlab-site"],
      ["ip", "-n", "pnlab-site", "link", "set", "lo", "up"],
      ["ip", "-n", "pnlab-site", "link", "add", "br0", "type", "bridge", "stp_state", "0"],
      ["ip", "-n", "pnlab-site", "link", "set", "uplink", "master", "br0", "up"],
      ["ip", "-n", "pnlab-site", "addr", "add", "10.203.7.2/24", "dev", "br0"],
      ["ip", "-n", "pnlab-site", "link", "set", "br0", "up"],
      ["ip", "addr", "add", "10.203.7.1/24", "dev", "pnl-site"],
      ["ip", "link", "set", "pnl-site", "up"],
    ]);
  });

  test("udhcpd: its config and the foreground command inside the namespace", () => {
    expect(udhcpdConfig(plan, { leaseFile: "/t/leases", pidFile: "/t/udhcpd.pid" }).split("\n")).toEqual([
      "start 10.203.7.10",
      "end 10.203.7.250",
      "interface br0",
      "max_leases 241",
      "lease_file /t/leases",
      "pidfile /t/udhcpd.pid",
      "auto_time 1",
      "option subnet 255.255.255.0",
      "option router 10.203.7.1",
      "option lease 3600",
      "",
    ]);
    expect(udhcpdArgv(plan, "/t/udhcpd.conf")).toEqual([
      "ip",
      "netns",
      "exec",
      "pnlab-site",
      "/bin/busybox",
      "udhcpd",
      "-f",
      "-a",
      "200",
      "/t/udhcpd.conf",
    ]);
  });

  test("tcpdump on the bridge inside the namespace, unbuffered, keeping root to write the file", () => {
    expect(tcpdumpArgv(plan, "/t/c.pcap")).toEqual([
      "ip",
      "netns",
      "exec",
      "pnlab-site",
      "tcpdump",
      "-Z",
      "root",
      "-i",
      "br0",
      "--immediate-mode",
      "-U",
      "-n",
      "-w",
      "/t/c.pcap",
    ]);
  });
});

describe("readiness and conflicts", () => {
  test("udpPortBound reads /proc/<pid>/net/udp", () => {
    const udp = [
      "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops",
      "14111: 00000000:0043 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 26163 2 00000000c4e0d8f6 0",
    ].join("\n");
    expect(udpPortBound(udp, 67)).toBe(true);
    expect(udpPortBound(udp, 68)).toBe(false);
    expect(udpPortBound(udp.split("\n")[0] ?? "", 67)).toBe(false);
  });

  test("interfacesOnSubnet finds another interface on the lab's /24", () => {
    const json = JSON.stringify([
      { ifname: "lo", addr_info: [{ local: "127.0.0.1" }] },
      { ifname: "eth0", addr_info: [{ local: "10.203.70.5" }] },
      { ifname: "pnl-site", addr_info: [{ local: "10.203.7.1" }] },
      { ifname: "pnl-other", addr_info: [{ local: "10.203.7.1" }] },
    ]);
    expect(interfacesOnSubnet(json, plan, "pnl-site")).toEqual(["pnl-other"]);
  });
});
