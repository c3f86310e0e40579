/**
 * What the sdwan controller does to a node's VRFs, as a pure function of the section's VRFs, the links
 * present and each link's master: VRF devices created, network interfaces enslaved to their VRF (once
 * the mesh controller made them), each VRF's router address put on its device, `vrf-<6 hex>` devices
 * the section no longer names deleted.
 */
import type { Vrf } from "@powernode/proto";
import { canonicalIp, ipv6Groups } from "../../sys/ip-address.ts";

/** The canonical text, or the text itself when it is not an address (the `ip` step then names it). */
const canonical = (a: string) => {
  try {
    return canonicalIp(a);
  } catch {
    return a;
  }
};

export const OUR_VRF = /^vrf-[0-9a-f]{6}$/;

/** fe80:: with the interface id (the low 64 bits) of `global`: unique on the link as `global` is. */
export function linkLocalFor(global: string): string {
  const id = ipv6Groups(global)
    .slice(4)
    .map((g) => g.toString(16));
  return canonicalIp(`fe80::${id.join(":")}`);
}

export interface VrfPlan {
  create: { name: string; table: number }[];
  enslave: { dev: string; vrf: string }[];
  /** Router addresses missing on their VRF device (made now or present). */
  address: { vrf: string; address: string }[];
  /**
   * Link-local addresses for network interfaces without one: WireGuard links get none, and bgpd will
   * not run an IPv6 session over a link without one (it needs it for the next hop it announces).
   */
  linkLocal: { dev: string; address: string }[];
  delete: string[];
  /** Interfaces the section puts in a VRF that do not exist yet. */
  waiting: string[];
}

export function planVrfs(
  vrfs: readonly (Pick<Vrf, "vrfName" | "tableId" | "interfaceName"> & { routerAddress?: string })[],
  links: readonly string[],
  masterOf: (dev: string) => string | undefined,
  addressesOf: (dev: string) => readonly string[] = () => [],
): VrfPlan {
  const have = new Set(links);
  const plan: VrfPlan = { create: [], enslave: [], address: [], linkLocal: [], delete: [], waiting: [] };
  for (const v of vrfs) {
    if (!OUR_VRF.test(v.vrfName)) continue;
    if (!have.has(v.vrfName)) plan.create.push({ name: v.vrfName, table: v.tableId });
    const want = v.routerAddress ? canonical(v.routerAddress) : undefined;
    if (want && !(have.has(v.vrfName) && addressesOf(v.vrfName).includes(want)))
      plan.address.push({ vrf: v.vrfName, address: want });
    if (!have.has(v.interfaceName)) plan.waiting.push(v.interfaceName);
    else {
      if (masterOf(v.interfaceName) !== v.vrfName)
        plan.enslave.push({ dev: v.interfaceName, vrf: v.vrfName });
      const addrs = addressesOf(v.interfaceName);
      const global = addrs.find((a) => !a.startsWith("fe80:"));
      if (global && !addrs.some((a) => a.startsWith("fe80:")))
        plan.linkLocal.push({ dev: v.interfaceName, address: linkLocalFor(global) });
    }
  }
  const named = new Set(vrfs.map((v) => v.vrfName));
  for (const l of links) if (OUR_VRF.test(l) && !named.has(l)) plan.delete.push(l);
  return plan;
}
