/**
 * Instance providers by name. "none" is built in; QEMU is the default; tests and smokes pass their own list.
 */
import { join } from "node:path";
import type { Logger } from "../log.ts";
import { createNoneProvider } from "./none-provider.ts";
import type { InstanceProvider } from "./provider.ts";
import { createQemuProvider } from "./qemu/index.ts";

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

/** The providers a hub has unless told otherwise: QEMU, keeping its state under the data dir. */
export function defaultProviders(dataDir: string, log: Logger): InstanceProvider[] {
  return [createQemuProvider({ stateDir: join(dataDir, "qemu"), log: log.child({ component: "qemu" }) })];
}
