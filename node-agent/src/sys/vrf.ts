/**
 * VRF devices with busybox `ip` (`ip link add name <n> type vrf table <t>`, up, delete) and enslaving
 * a network interface to one (`ip link set dev <if> master <vrf>`); sysfs tells which links exist and
 * what a link's master is. The argv builders are pure; tests check them.
 */
import { existsSync, readdirSync, readlinkSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import type { Exec } from "./exec.ts";
import { assertIfaceName, ipLinkUpArgs } from "./net.ts";

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
  };
}
