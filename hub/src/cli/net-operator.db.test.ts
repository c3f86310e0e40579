/**
 * `pnctl net join NET` as an operator peer, for real: two operator peers in two network namespaces
 * joined by a veth pair, each a wg-sdwan-* interface (the kernel's WireGuard or wireguard-go), ping each
 * other's overlay address through the tunnel; leave removes the interface. Needs root and wireguard-go
 * (set-up installs it) or a kernel with WireGuard.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createExec } from "@powernode/exec";
import { startTestHub } from "../../test/harness.ts";
import type { RunningHub } from "../hub.ts";
import { cliFor } from "./test-cli.ts";

let hub: RunningHub;
const exec = createExec();
const tag = Math.random().toString(16).slice(2, 8);
const ns = [`pnop-a-${tag}`, `pnop-b-${tag}`] as const;
const config = mkdtempSync(join(tmpdir(), "pnctl-peers-"));
const sh = (cmd: string, ...args: string[]) => exec.run(cmd, args, { timeoutMs: 15_000 });

beforeAll(async () => {
  hub = await startTestHub();
  for (const n of ns) await sh("ip", "netns", "add", n);
  await sh(
    "ip",
    "link",
    "add",
    `pnva${tag}`,
    "netns",
    ns[0],
    "type",
    "veth",
    "peer",
    `pnvb${tag}`,
    "netns",
    ns[1],
  );
  await sh("ip", "-n", ns[0], "addr", "add", "10.254.7.1/30", "dev", `pnva${tag}`);
  await sh("ip", "-n", ns[1], "addr", "add", "10.254.7.2/30", "dev", `pnvb${tag}`);
  for (const [n, dev] of [
    [ns[0], `pnva${tag}`],
    [ns[1], `pnvb${tag}`],
  ] as const) {
    await sh("ip", "-n", n, "link", "set", dev, "up");
    await sh("ip", "-n", n, "link", "set", "lo", "up");
  }
}, 30_000);
afterAll(async () => {
  await hub.stop();
  for (const n of ns) {
    const pids = await exec.run("ip", ["netns", "pids", n], { timeoutMs: 5000, allowFailure: true });
    for (const pid of pids.stdout.split("\n").filter(Boolean)) process.kill(Number(pid), "SIGTERM");
    await exec.run("ip", ["netns", "del", n], { timeoutMs: 5000, allowFailure: true });
  }
  rmSync(config, { recursive: true, force: true });
});

describe("pnctl net join NET (operator peer)", () => {
  test("two operator peers in two namespaces ping over the mesh; leave removes the interface", async () => {
    const cli = cliFor(() => hub, { XDG_CONFIG_HOME: config });
    expect((await cli("net", "create", "ops-live")).code).toBe(0);
    // Two wireguard-go on one machine need two interface names (their UAPI sockets share a directory).
    const join = async (name: string, n: string, endpoint: string) => {
      const r = await cli(
        "net",
        "join",
        "ops-live",
        "--as",
        name,
        "--netns",
        n,
        "--ifname",
        `wg-${name}`,
        "--port",
        "51900",
        "--endpoint",
        endpoint,
        "--json",
      );
      expect(r.err).toBe("");
      expect(r.code).toBe(0);
      return JSON.parse(r.out) as { address: string; interface: string; peers: number; wireguard: string };
    };
    const a = await join("peer-a", ns[0], "10.254.7.1:51900");
    const b = await join("peer-b", ns[1], "10.254.7.2:51900");
    expect(b.peers).toBe(1);
    // a joined first: its snapshot had no peers; joining again picks b up (same key, same address).
    const a2 = await join("peer-a", ns[0], "10.254.7.1:51900");
    expect(a2.address).toBe(a.address);
    expect(a2.peers).toBe(1);
    const ping = await exec.run(
      "ip",
      ["netns", "exec", ns[0], "busybox", "ping", "-6", "-c", "3", "-W", "5", b.address],
      { timeoutMs: 30_000, allowFailure: true },
    );
    expect(ping.stdout).toContain("3 packets received");
    const dump = await sh("ip", "netns", "exec", ns[0], "wg", "show", a.interface, "latest-handshakes");
    expect(Number(dump.stdout.trim().split(/\s+/)[1])).toBeGreaterThan(0);

    const left = await cli(
      "net",
      "leave",
      "ops-live",
      "--as",
      "peer-a",
      "--netns",
      ns[0],
      "--ifname",
      "wg-peer-a",
      "--json",
    );
    expect(JSON.parse(left.out).interfaceRemoved).toBe(true);
    const gone = await exec.run("ip", ["-n", ns[0], "link", "show", a.interface], {
      timeoutMs: 5000,
      allowFailure: true,
    });
    expect(gone.exitCode).not.toBe(0);
  }, 60_000);
});
