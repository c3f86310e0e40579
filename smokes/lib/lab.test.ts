// Real namespaces, veths, a bridge, busybox udhcpd and tcpdump: needs root (the test machine runs as root).
// A DHCP client in a namespace of its own stands in for a node; real QEMU nodes are site-nodes.ts's job.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createExec } from "@powernode/exec";
import { createLab, type Lab } from "./lab.ts";
import { waitFor } from "./wait.ts";

const exec = createExec();
const work = mkdtempSync(join(tmpdir(), "pn-lab-test-"));
/** Fixed names, so a run killed half-way is cleaned up by the next one. */
const NAME = "labtest";
const INDEX = 251;
const CLIENT_NS = "pnlabc-labtest";

const ping = (address: string, ns?: string) =>
  exec.run(
    ns ? "ip" : "/bin/busybox",
    [...(ns ? ["netns", "exec", ns, "/bin/busybox"] : []), "ping", "-c", "1", "-W", "3", address],
    { timeoutMs: 10_000 },
  );
const nsExists = (ns: string) => existsSync(join("/run/netns", ns));
const linkExists = (name: string) => existsSync(join("/sys/class/net", name));

/** A DHCP client in its own namespace, its veth a port of the lab's bridge; returns its lease line. */
async function dhcpClient(lab: Lab): Promise<{ address: string; prefix: string; router: string }> {
  if (nsExists(CLIENT_NS)) await exec.run("ip", ["netns", "del", CLIENT_NS]);
  await exec.run("ip", ["netns", "add", CLIENT_NS]);
  await exec.run("ip", ["-n", lab.netns, "link", "add", "client0", "type", "veth", "peer", "name", "eth0", "netns", CLIENT_NS]);
  await exec.run("ip", ["-n", lab.netns, "link", "set", "client0", "master", lab.bridge, "up"]);
  await exec.run("ip", ["-n", CLIENT_NS, "link", "set", "eth0", "up"]);
  const script = join(work, "udhcpc.sh");
  writeFileSync(
    script,
    '#!/bin/sh\n[ "$1" = bound ] && ip addr add "$ip/$mask" dev "$interface" && echo "lease $ip $mask $router"\nexit 0\n',
  );
  chmodSync(script, 0o755);
  const r = await exec.run(
    "ip",
    ["netns", "exec", CLIENT_NS, "/bin/busybox", "udhcpc", "-i", "eth0", "-f", "-q", "-n", "-t", "5", "-T", "2", "-s", script],
    { timeoutMs: 30_000 },
  );
  const m = /^lease (\S+) (\S+) (\S+)$/m.exec(r.stdout);
  if (!m) throw new Error(`udhcpc printed no lease: ${r.stdout}${r.stderr}`);
  return { address: m[1] ?? "", prefix: m[2] ?? "", router: m[3] ?? "" };
} // biome-ignore format: argv on one line each

beforeAll(() => {
  if (process.getuid?.() !== 0) throw new Error("lab.test.ts needs root: network namespaces, veths, taps");
});
afterAll(async () => {
  if (nsExists(CLIENT_NS)) await exec.run("ip", ["netns", "del", CLIENT_NS]);
  rmSync(work, { recursive: true, force: true });
});

describe("createLab", () => {
  test("comes up: the host pings the bridge; a client gets a lease routed via the host end; the capture sees it all", async () => {
    const lab = await createLab({ name: NAME, index: INDEX });
    try {
      expect(lab.network).toBe("lab:pnlab-labtest:br0");
      expect(lab.hostAddress).toBe("10.203.251.1");
      await ping(lab.bridgeAddress);
      expect(await Bun.file(`/proc/sys/net/ipv4/conf/${lab.hostInterface}/forwarding`).text()).toBe("0\n");

      const cap = await lab.capture(join(work, "lab.pcap"));
      const lease = await dhcpClient(lab);
      expect(lease.router).toBe(lab.hostAddress);
      expect(lease.prefix).toBe("24");
      const last = Number(lease.address.split(".")[3]);
      expect(lease.address.startsWith("10.203.251.")).toBe(true);
      expect(last).toBeGreaterThanOrEqual(10);
      expect(last).toBeLessThanOrEqual(250);
      await ping(lease.address); // host -> client: forwarded between two ports of the bridge
      await ping(lab.hostAddress, CLIENT_NS);
      const packets = await cap.stop();

      const dhcp = packets.filter((p) => p.protocol === "udp" && p.dstPort === 67);
      expect(dhcp.length).toBeGreaterThanOrEqual(2); // discover + request
      expect(
        packets.some((p) => p.protocol === "udp" && p.srcPort === 67 && p.src === lab.bridgeAddress),
      ).toBe(true);
      const echo = (src: string, dst: string, type: number) =>
        packets.some((p) => p.protocol === "icmp" && p.src === src && p.dst === dst && p.type === type);
      expect(echo(lab.hostAddress, lease.address, 8)).toBe(true);
      expect(echo(lease.address, lab.hostAddress, 0)).toBe(true);
      expect(echo(lease.address, lab.hostAddress, 8)).toBe(true);

      // udhcpd rewrites its lease file every second.
      const mac = dhcp[0]?.srcMac;
      const leased = await waitFor(
        `a lease for ${mac} in ${lab.dir}/udhcpd.leases`,
        () => lab.leases().find((l) => l.mac === mac),
        { timeoutMs: 5_000 },
      );
      expect(leased.address).toBe(lease.address);
    } finally {
      await lab.stop();
    }
  }, 60_000);

  test("after a crash (stop never called) a lab of the same name cleans up and works", async () => {
    const crashed = await createLab({ name: NAME, index: INDEX });
    await crashed.capture(join(work, "crashed.pcap")); // a tcpdump left running too
    const removed: string[] = [];
    const lab = await createLab({ name: NAME, index: INDEX, log: (l) => removed.push(l) });
    try {
      expect(removed.some((l) => /removed leftover 2 process\(es\) in pnlab-labtest/.test(l))).toBe(true);
      expect(removed).toContain("lab labtest: removed leftover host interface pnl-labtest");
      expect(removed).toContain("lab labtest: removed leftover namespace pnlab-labtest");
      expect(removed).toContain(`lab labtest: removed stale ${crashed.dir}`);
      expect(existsSync(crashed.dir)).toBe(false);
      await ping(lab.bridgeAddress);
    } finally {
      await lab.stop();
    }
  }, 60_000);

  test("stop removes the namespace, the host veth and the temp dir; a second stop is a no-op", async () => {
    const lab = await createLab({ name: NAME, index: INDEX });
    expect(nsExists(lab.netns)).toBe(true);
    expect(linkExists(lab.hostInterface)).toBe(true);
    await lab.stop();
    expect(nsExists(lab.netns)).toBe(false);
    expect(linkExists(lab.hostInterface)).toBe(false);
    expect(existsSync(lab.dir)).toBe(false);
    await lab.stop();
  }, 60_000);

  test("refuses an index whose /24 another host interface holds, naming it", async () => {
    const lab = await createLab({ name: NAME, index: INDEX });
    try {
      const err = await createLab({ name: "labtest2", index: INDEX }).catch((e: unknown) => e);
      expect(String(err)).toContain(
        "10.203.251.0/24 is already on host interface pnl-labtest; pick another index",
      );
      expect(nsExists("pnlab-labtest2")).toBe(false);
    } finally {
      await lab.stop();
    }
  }, 60_000);
});
