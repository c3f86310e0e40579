/**
 * Network bring-up with busybox `ip` and `udhcpc`. Argument builders are pure; {@link createNet} runs
 * them through the injected {@link Exec}. DHCP: udhcpc runs an agent-written event script that only
 * prints the lease; the agent applies it with `ip` itself, so the whole path is visible and testable.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Exec } from "./exec.ts";
import { writeFileAtomic } from "./files.ts";

/** A DHCP lease as udhcpc reports it. */
export interface Lease {
  interface: string;
  address: string;
  prefix: number;
  router?: string;
  dns: string[];
  /** Lease time the server granted, in seconds. */
  leaseSeconds?: number;
}

/** The udhcpc event script: prints the lease on bound/renew, nothing else. */
export const UDHCPC_SCRIPT = `#!/bin/sh
# powernode-agent: print the lease; the agent applies it.
case "$1" in
  bound|renew)
    echo "powernode-dhcp interface=$interface"
    echo "powernode-dhcp ip=$ip"
    echo "powernode-dhcp mask=$mask"
    echo "powernode-dhcp router=$router"
    echo "powernode-dhcp dns=$dns"
    echo "powernode-dhcp lease=$lease" ;;
esac
exit 0
`;

/** udhcpc argv: foreground, quit once leased, fail if none after `tries` x `timeoutSec`. */
export function udhcpcArgs(iface: string, script: string, tries = 5, timeoutSec = 3): string[] {
  return ["-i", iface, "-f", "-q", "-n", "-t", String(tries), "-T", String(timeoutSec), "-s", script];
}

/** Parses the `powernode-dhcp key=value` lines the event script prints. */
export function parseLease(stdout: string): Lease | undefined {
  const kv: Record<string, string> = {};
  for (const line of stdout.split("\n")) {
    const m = /^powernode-dhcp (\w+)=(.*)$/.exec(line.trim());
    if (m?.[1]) kv[m[1]] = (m[2] ?? "").trim();
  }
  const prefix = Number(kv.mask);
  if (!kv.ip || !kv.interface || !Number.isInteger(prefix)) return undefined;
  const router = kv.router?.split(/\s+/)[0];
  const lease: Lease = {
    interface: kv.interface,
    address: kv.ip,
    prefix,
    dns: (kv.dns ?? "").split(/\s+/).filter((d) => d !== ""),
  };
  if (router) lease.router = router;
  const seconds = Number(kv.lease);
  if (kv.lease && Number.isInteger(seconds) && seconds > 0) lease.leaseSeconds = seconds;
  return lease;
}

/** Linux interface names: at most 15 bytes; these characters keep them safe as single argv words. */
export function assertIfaceName(iface: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/.test(iface))
    throw new Error(`interface name ${JSON.stringify(iface)}`);
  return iface;
}

export const ipLinkUpArgs = (iface: string) => ["link", "set", "dev", iface, "up"];
export const ipAddrAddArgs = (iface: string, address: string, prefix: number) => [
  "addr",
  "replace",
  `${address}/${prefix}`,
  "dev",
  iface,
];
export const ipAddrDelArgs = (iface: string, address: string, prefix: number) => [
  "addr",
  "del",
  `${address}/${prefix}`,
  "dev",
  iface,
];
export const ipDefaultRouteArgs = (iface: string, gateway: string) => [
  "route",
  "replace",
  "default",
  "via",
  gateway,
  "dev",
  iface,
];

/** Network interfaces other than lo, eth* and en* first, then by name. */
export function listNetInterfaces(sysRoot = "/sys"): string[] {
  const dir = join(sysRoot, "class/net");
  if (!existsSync(dir)) return [];
  const rank = (n: string) => (/^(eth|en)/.test(n) ? 0 : 1);
  return readdirSync(dir)
    .filter((n) => n !== "lo")
    .sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

/** The MAC address of an interface, from sysfs. */
export function readMac(iface: string, sysRoot = "/sys"): string | undefined {
  const f = join(sysRoot, "class/net", iface, "address");
  return existsSync(f) ? readFileSync(f, "utf8").trim() : undefined;
}

export interface Net {
  linkUp(iface: string): Promise<void>;
  setAddress(iface: string, address: string, prefix: number): Promise<void>;
  setDefaultRoute(iface: string, gateway: string): Promise<void>;
  removeAddress(iface: string, address: string, prefix: number): Promise<void>;
  /** Runs udhcpc once; throws when no lease came. */
  dhcp(iface: string): Promise<Lease>;
  writeResolvConf(dns: readonly string[]): void;
}

/** `ip`/`udhcpc` through `exec`; `root` prefixes /run and /etc (tests use a temp dir). */
export function createNet(exec: Exec, root = "/"): Net {
  return {
    async linkUp(iface) {
      await exec.run("ip", ipLinkUpArgs(iface), { timeoutMs: 10_000 });
    },
    async setAddress(iface, address, prefix) {
      await exec.run("ip", ipAddrAddArgs(iface, address, prefix), { timeoutMs: 10_000 });
    },
    async removeAddress(iface, address, prefix) {
      await exec.run("ip", ipAddrDelArgs(iface, address, prefix), { timeoutMs: 10_000 });
    },
    async setDefaultRoute(iface, gateway) {
      await exec.run("ip", ipDefaultRouteArgs(iface, gateway), { timeoutMs: 10_000 });
    },
    async dhcp(iface) {
      const script = join(root, "run/powernode/udhcpc.script");
      writeFileAtomic(script, UDHCPC_SCRIPT, 0o755);
      const r = await exec.run("udhcpc", udhcpcArgs(iface, script), { timeoutMs: 60_000 });
      const lease = parseLease(r.stdout);
      if (!lease)
        throw new Error(`udhcpc on ${iface}: no lease in its output (${r.stderr.slice(-300).trim()})`);
      return lease;
    },
    writeResolvConf(dns) {
      if (dns.length === 0) return;
      writeFileAtomic(join(root, "etc/resolv.conf"), dns.map((d) => `nameserver ${d}\n`).join(""));
    },
  };
}
