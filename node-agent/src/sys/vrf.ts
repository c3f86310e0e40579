/**
 * VRF devices with busybox `ip` (`ip link add name <n> type vrf table <t>`, up, delete), enslaving
 * a network interface to one (`ip link set dev <if> master <vrf>`) and the node's router address on it
 * (`ip addr replace <a>/128 dev <vrf>`); sysfs tells which links exist and what a link's master is,
 * /proc/net/if_inet6 which IPv6 addresses a link has. The argv builders and the parser are pure; tests
 * check them.
 */
import { existsSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import type { Exec } from "./exec.ts";
import { canonicalIp } from "./ip-address.ts";
import { assertIfaceName, ipAddrAddArgs, ipLinkUpArgs } from "./net.ts";

export const vrfAddArgs = (name: string, table: number) => {
  if (!Number.isInteger(table) || table < 1 || table > 0xffffffff || [253, 254, 255].includes(table))
    throw new Error(`vrf ${name}: table ${table} is not a usable routing table`);
  return ["link", "add", "name", assertIfaceName(name), "type", "vrf", "table", String(table)];
};
export const enslaveArgs = (dev: string, master: string) => [
  "link",
  "set",
  "dev",
  assertIfaceName(dev),
  "master",
  assertIfaceName(master),
];

/**
 * The IPv6 addresses of `dev` in /proc/net/if_inet6's text (one line per address: 32 hex digits, the
 * ifindex, the prefix length, scope and flags in hex, then the link's name), canonical.
 */
export function ipv6AddressesOf(ifInet6: string, dev: string): string[] {
  const out: string[] = [];
  for (const line of ifInet6.split("\n")) {
    const f = line.trim().split(/\s+/);
    if (f.length !== 6 || f[5] !== dev || !/^[0-9a-f]{32}$/.test(f[0] as string)) continue;
    out.push(canonicalIp((f[0] as string).match(/.{4}/g)?.join(":") ?? ""));
  }
  return out.sort();
}

export interface Vrfs {
  /** Every link name on the node. */
  links(): string[];
  /** The master (a VRF or bridge) of a link, if any. */
  masterOf(dev: string): string | undefined;
  /** Creates a VRF device with its table and sets it up. */
  add(name: string, table: number): Promise<void>;
  /** Enslaves `dev` to `vrf`, keeping its IPv6 addresses through the kernel's down/up of it. */
  enslave(dev: string, vrf: string): Promise<void>;
  del(name: string): Promise<void>;
  /** The IPv6 addresses on a link, canonical. */
  addresses(dev: string): string[];
  /** Puts `address` on `dev` with that prefix length (idempotent). */
  addAddress(dev: string, address: string, prefixLen: number): Promise<void>;
}

export function createVrfs(exec: Exec, sysRoot = "/sys", procRoot = "/proc"): Vrfs {
  const net = join(sysRoot, "class/net");
  return {
    links: () => (existsSync(net) ? readdirSync(net).sort() : []),
    masterOf(dev) {
      try {
        return basename(readlinkSync(join(net, dev, "master")));
      } catch {
        return undefined;
      }
    },
    async add(name, table) {
      await exec.run("ip", vrfAddArgs(name, table), { timeoutMs: 10_000 });
      await exec.run("ip", ipLinkUpArgs(name), { timeoutMs: 10_000 });
    },
    async enslave(dev, vrf) {
      // The kernel cycles an interface it enslaves; IPv6 drops the addresses of a link going down
      // unless told to keep them (then they come back in the VRF's table with the link).
      try {
        writeFileSync(join(procRoot, "sys/net/ipv6/conf", assertIfaceName(dev), "keep_addr_on_down"), "1");
      } catch {}
      await exec.run("ip", enslaveArgs(dev, vrf), { timeoutMs: 10_000 });
    },
    async del(name) {
      await exec.run("ip", ["link", "del", "dev", assertIfaceName(name)], { timeoutMs: 10_000 });
    },
    addresses(dev) {
      try {
        return ipv6AddressesOf(readFileSync(join(procRoot, "net/if_inet6"), "utf8"), dev);
      } catch {
        return [];
      }
    },
    async addAddress(dev, address, prefixLen) {
      await exec.run("ip", ["-6", ...ipAddrAddArgs(assertIfaceName(dev), canonicalIp(address), prefixLen)], {
        timeoutMs: 10_000,
      });
    },
  };
}
