/**
 * What the sdwan controller does to a node's bridges, as a pure function of the `sdwan` section and
 * the kernel bridges present: active linux bridges are created, draining ones (and `pwnbr-<n>` bridges
 * the section no longer names) deleted; OVS bridges are ovs-plan.ts's (reported as not applied by an
 * agent without Open vSwitch). Bridges not named `pwnbr-<n>` are someone else's and never touched.
 */
import type { HostBridge } from "@powernode/proto";

export const OURS = /^pwnbr-[1-9][0-9]{0,8}$/;

export interface BridgePlan {
  create: string[];
  delete: string[];
  /** Present and wanted: nothing to do. */
  kept: string[];
  /** Wanted but not applicable here, with why. */
  unsupported: { name: string; reason: string }[];
}

export function planBridges(
  bridges: readonly Pick<HostBridge, "name" | "kind" | "state">[],
  present: readonly string[],
  /** The agent runs Open vSwitch (ovs-plan.ts applies OVS bridges): they are not this plan's. */
  ovs = false,
): BridgePlan {
  const have = new Set(present);
  const plan: BridgePlan = { create: [], delete: [], kept: [], unsupported: [] };
  const named = new Set<string>();
  for (const b of bridges) {
    if (!OURS.test(b.name)) {
      plan.unsupported.push({ name: b.name, reason: "not a pwnbr-<n> name" });
      continue;
    }
    named.add(b.name);
    if (b.kind === "ovs" && ovs) continue;
    if (b.state === "draining") {
      if (have.has(b.name)) plan.delete.push(b.name);
    } else if (b.kind === "ovs") {
      plan.unsupported.push({
        name: b.name,
        reason: "ovs bridges need Open vSwitch (this agent has no OVS support)",
      });
    } else if (b.kind === "linux") {
      (have.has(b.name) ? plan.kept : plan.create).push(b.name);
    } else {
      plan.unsupported.push({ name: b.name, reason: `unknown kind ${JSON.stringify(b.kind.slice(0, 20))}` });
    }
  }
  for (const p of present) if (OURS.test(p) && !named.has(p)) plan.delete.push(p);
  return plan;
}
