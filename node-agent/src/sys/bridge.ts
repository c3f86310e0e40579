/**
 * Kernel (linux) bridges with busybox `ip` (`ip link add name <n> type bridge`, up, delete) and sysfs
 * (a bridge has `/sys/class/net/<n>/bridge`). The argv builders are pure; tests check them.
 */
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import type { Exec } from "./exec.ts";
import { assertIfaceName, ipLinkUpArgs } from "./net.ts";

export const bridgeAddArgs = (name: string) => [
  "link",
  "add",
  "name",
  assertIfaceName(name),
  "type",
  "bridge",
];
export const linkDelArgs = (name: string) => ["link", "del", "dev", assertIfaceName(name)];

/** Names of the kernel bridges on the node, sorted. */
export function listKernelBridges(sysRoot = "/sys"): string[] {
  const dir = join(sysRoot, "class/net");
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((n) => existsSync(join(dir, n, "bridge")))
    .sort();
}

export interface Bridges {
  /** The kernel bridges present. */
  list(): string[];
  /** Creates a kernel bridge and sets it up (an existing one is only set up). */
  add(name: string): Promise<void>;
  /** Deletes a link (its ports are released by the kernel). */
  del(name: string): Promise<void>;
}

export function createBridges(exec: Exec, sysRoot = "/sys"): Bridges {
  return {
    list: () => listKernelBridges(sysRoot),
    async add(name) {
      if (!listKernelBridges(sysRoot).includes(name))
        await exec.run("ip", bridgeAddArgs(name), { timeoutMs: 10_000 });
      await exec.run("ip", ipLinkUpArgs(name), { timeoutMs: 10_000 });
    },
    async del(name) {
      await exec.run("ip", linkDelArgs(name), { timeoutMs: 10_000 });
    },
  };
}
