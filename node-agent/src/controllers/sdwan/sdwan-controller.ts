/**
 * `sdwan`: makes the desired state's `sdwan` section real on the node, level-triggered every pass:
 * linux host bridges created and set up, draining ones (and `pwnbr-<n>` bridges no longer named)
 * deleted (bridge-plan.ts); VRF devices created with their tables and each network's interface enslaved
 * to its VRF (its addresses kept through the kernel's cycling of it), stale `vrf-*` devices deleted
 * (vrf-plan.ts). FRR is not run yet. OVS bridges are named in the condition as not applied (no Open vSwitch on
 * nodes yet). Each bridge made or deleted is an event (`system.sdwan.bridge_up` / `.bridge_deleted`),
 * which is how the hub reads the node's bridges back. Bridges outlive the agent (nothing is undone at
 * stop): a restarted agent finds them in place.
 */
import { EVENTS } from "@powernode/proto";
import { definePollingController } from "../../runtime/controller.ts";
import type { Bridges } from "../../sys/bridge.ts";
import type { AgentDeps } from "../deps.ts";
import { errMsg } from "../modules/module-mounts.ts";
import { DesiredNodeState, SdwanStatus } from "../resources.ts";
import { planBridges } from "./bridge-plan.ts";
import { planVrfs } from "./vrf-plan.ts";

export const SDWAN_POLL_MS = 10_000;

export function sdwanController(deps: AgentDeps & { bridges: Bridges }) {
  const os = deps.bridges;
  const vrfOs = deps.vrfs;
  /** The last error per bridge (an event per new error, not per pass). */
  const failed = new Map<string, string>();
  return definePollingController({
    name: "sdwan",
    inputs: [DesiredNodeState],
    outputs: [SdwanStatus],
    pollMs: SDWAN_POLL_MS,
    async reconcile(ctx) {
      const section = ctx.get(DesiredNodeState, "node")?.spec.sdwan;
      const bridges = section?.bridges ?? [];
      const plan = planBridges(bridges, os.list());
      const kindOf = new Map(bridges.map((b) => [b.name, b.kind]));
      const errors: string[] = [];
      /** Runs one change: logged and recorded once done; a failure named in the condition (logged once). */
      const step = async (
        failKey: string,
        done: string,
        fn: () => Promise<void>,
        event: string,
        payload: Record<string, string>,
      ) => {
        try {
          await fn();
          failed.delete(failKey);
          ctx.log.info(`sdwan: ${done}`);
          deps.phases.record(event, { payload });
        } catch (err) {
          const msg = `${failKey}: ${errMsg(err)}`;
          if (failed.get(failKey) !== msg) ctx.log.warn(`sdwan: ${msg}`);
          failed.set(failKey, msg);
          errors.push(msg);
        }
      };
      const bridgePayload = (name: string) => ({ bridge: name, kind: kindOf.get(name) ?? "linux" });
      for (const name of plan.create)
        await step(
          name,
          `bridge ${name} created and up`,
          () => os.add(name),
          EVENTS.sdwanBridgeUp.kind,
          bridgePayload(name),
        );
      for (const name of plan.delete)
        await step(
          name,
          `bridge ${name} deleted`,
          () => os.del(name),
          EVENTS.sdwanBridgeDeleted.kind,
          bridgePayload(name),
        );
      const vrfs = section?.vrfs ?? [];
      const waiting: string[] = [];
      if (vrfOs) {
        const vp = planVrfs(vrfs, vrfOs.links(), (d) => vrfOs.masterOf(d));
        for (const c of vp.create) {
          const what = `vrf ${c.name} (table ${c.table}) up`;
          await step(what, what, () => vrfOs.add(c.name, c.table), EVENTS.sdwanVrfUp.kind, {
            vrf: c.name,
            table: String(c.table),
          });
        }
        for (const e of vp.enslave) {
          const what = `${e.dev} enslaved to ${e.vrf}`;
          await step(what, what, () => vrfOs.enslave(e.dev, e.vrf), EVENTS.sdwanVrfRouted.kind, {
            vrf: e.vrf,
            interface: e.dev,
          });
        }
        for (const d of vp.delete) {
          const what = `vrf ${d} deleted`;
          await step(what, what, () => vrfOs.del(d), EVENTS.sdwanVrfDeleted.kind, { vrf: d });
        }
        waiting.push(...vp.waiting);
      } else if (vrfs.length > 0)
        errors.push("VRFs: not applied on this node (no VRF support in the agent's OS side)");
      const present = new Set(os.list());
      ctx.set(SdwanStatus, "node", {
        bridges: bridges.map((b) => ({
          name: b.name,
          kind: b.kind,
          state: b.state,
          present: present.has(b.name),
        })),
        vrfs: vrfs.map((v) => ({
          name: v.vrfName,
          table: v.tableId,
          interface: v.interfaceName,
          enslaved: vrfOs?.masterOf(v.interfaceName) === v.vrfName,
        })),
      });
      const problems = [
        ...errors,
        ...plan.unsupported.map((u) => `${u.name}: ${u.reason}`),
        ...waiting.map((w) => `${w}: waiting for the interface (its VRF is ready)`),
        // Said, not hidden: the VRFs route locally, but no BGP runs in them yet.
        ...(section?.frrConfig
          ? ["frr.conf compiled by the hub is not applied: FRR does not run on nodes yet"]
          : []),
      ];
      const up = bridges.filter((b) => b.state === "active" && present.has(b.name)).length;
      ctx.condition(
        problems.length === 0,
        problems.length === 0 ? (bridges.length === 0 ? "NoBridges" : "Ready") : "Degraded",
        [`${up} bridge(s) up`, ...problems].join("; "),
      );
    },
    async stop() {},
  });
}
