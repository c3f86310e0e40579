/**
 * Instance providers by name. "none" is built in; the QEMU provider is registered here when
 * `hub/src/provision/qemu/` exports `createQemuProvider(opts)`. Tests and smokes pass their own list.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Logger } from "../log.ts";
import { createNoneProvider } from "./none-provider.ts";
import type { InstanceProvider } from "./provider.ts";

/** Providers by name. */
export interface ProviderRegistry {
  get(name: string): InstanceProvider | undefined;
  names(): string[];
}

/** Builds a registry; "none" is always present unless `providers` replaces it. */
export function createProviderRegistry(providers: readonly InstanceProvider[]): ProviderRegistry {
  const byName = new Map<string, InstanceProvider>([["none", createNoneProvider()]]);
  for (const p of providers) byName.set(p.name, p);
  return { get: (n) => byName.get(n), names: () => [...byName.keys()].sort() };
}

/** What the QEMU provider's factory is given. */
export interface QemuProviderOptions {
  /** Where it keeps disks, sockets and serial logs. */
  stateDir: string;
  log: Logger;
}

type QemuModule = {
  createQemuProvider?: (opts: QemuProviderOptions) => InstanceProvider | Promise<InstanceProvider>;
};

/**
 * QEMU registration point: loads `./qemu/index.ts` when it exists and exports `createQemuProvider`.
 * Returns [] (and logs why) otherwise.
 */
export async function loadDefaultProviders(dataDir: string, log: Logger): Promise<InstanceProvider[]> {
  const entry = join(fileURLToPath(new URL(".", import.meta.url)), "qemu", "index.ts");
  if (!existsSync(entry)) {
    log.info("qemu provider not available", { looked: entry });
    return [];
  }
  const mod = (await import(entry)) as QemuModule;
  if (typeof mod.createQemuProvider !== "function") {
    log.warn("qemu provider module has no createQemuProvider export", { entry });
    return [];
  }
  return [
    await mod.createQemuProvider({ stateDir: join(dataDir, "qemu"), log: log.child({ component: "qemu" }) }),
  ];
}
