/**
 * What the sdwan controller does to a node's VRFs, as a pure function of the section's VRFs, the links
 * present and each link's master: VRF devices created, network interfaces enslaved to their VRF (once
 * the mesh controller made them), `vrf-<6 hex>` devices the section no longer names deleted.
 */
import type { Vrf } from "@powernode/proto";

export const OUR_VRF = /^vrf-[0-9a-f]{6}$/;

export interface VrfPlan {
  create: { name: string; table: number }[];
  enslave: { dev: string; vrf: string }[];
  delete: string[];
  /** Interfaces the section puts in a VRF that do not exist yet. */
  waiting: string[];
}

export function planVrfs(
  vrfs: readonly Pick<Vrf, "vrfName" | "tableId" | "interfaceName">[],
  links: readonly string[],
  masterOf: (dev: string) => string | undefined,
): VrfPlan {
  const have = new Set(links);
  const plan: VrfPlan = { create: [], enslave: [], delete: [], waiting: [] };
  for (const v of vrfs) {
    if (!OUR_VRF.test(v.vrfName)) continue;
    if (!have.has(v.vrfName)) plan.create.push({ name: v.vrfName, table: v.tableId });
    if (!have.has(v.interfaceName)) plan.waiting.push(v.interfaceName);
    else if (masterOf(v.interfaceName) !== v.vrfName)
      plan.enslave.push({ dev: v.interfaceName, vrf: v.vrfName });
  }
  const named = new Set(vrfs.map((v) => v.vrfName));
  for (const l of links) if (OUR_VRF.test(l) && !named.has(l)) plan.delete.push(l);
  return plan;
}
