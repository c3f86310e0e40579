/**
 * `sdwan`: makes the desired state's `sdwan` section real on the node, level-triggered every pass:
 * linux host bridges created and set up, draining ones (and `pwnbr-<n>` bridges no longer named)
 * deleted (bridge-plan.ts); VRF devices created with their tables and each network's interface enslaved
 * to its VRF (its addresses kept through the kernel's cycling of it) and the node's router address on
 * it, stale `vrf-*` devices deleted (vrf-plan.ts); with an frr.conf in the section and the frr module in
 * the composed root, zebra and bgpd supervised with it (frr-run.ts) and what they route in each VRF
 * read back from FRR's JSON (frr-state.ts); with OVS bridges in the section and the openvswitch module
 * in the composed root, ovsdb-server and ovs-vswitchd supervised and the OVS database made to match
 * (bridges, VXLAN tunnel ports, IPFIX export: ovs-run.ts, ovs-plan.ts). Each bridge made or deleted is an event (`system.sdwan.bridge_up` /
 * `.bridge_deleted`), each change of a VRF's sessions or routes one (`system.sdwan.bgp.routes`): that is
 * how the hub reads the node back. Bridges and VRFs outlive the agent (nothing is undone at stop): a
 * restarted agent finds them in place; FRR stops with the agent.
 */
import { EVENTS, type HostBridge, type SdwanSection } from "@powernode/proto";
import type { Log } from "../../log.ts";
import { definePollingController } from "../../runtime/controller.ts";
import type { Bridges } from "../../sys/bridge.ts";
import { BGPD } from "../../sys/frr.ts";
import { OVS_VSWITCHD } from "../../sys/ovs.ts";
import type { AgentDeps } from "../deps.ts";
import { errMsg } from "../modules/module-mounts.ts";
import { DesiredNodeState, ModuleSetStatus, SdwanStatus } from "../resources.ts";
import { planBridges } from "./bridge-plan.ts";
import { frrRun } from "./frr-run.ts";
import { routingKey, type VrfRouting } from "./frr-state.ts";
import { OVN_CONTROLLER, OVN_NORTHD, ovnRun } from "./ovn-run.ts";
import { type OvsApplied, ovsRun } from "./ovs-run.ts";
import { OUR_VRF, planVrfs } from "./vrf-plan.ts";

export const SDWAN_POLL_MS = 10_000;

export function sdwanController(deps: AgentDeps & { bridges: Bridges }) {
  const os = deps.bridges;
  const vrfOs = deps.vrfs;
  const frr = deps.frr ? frrRun(deps.frr) : undefined;
  const ovs = deps.ovs ? ovsRun(deps.ovs) : undefined;
  const ovn = deps.ovs ? ovnRun(deps.ovs) : undefined;
  /** The OVN halves the section names (ovn-run.ts); the problems, each logged once. */
  const ovnPass = async (
    ovsUp: boolean,
    root: string | undefined,
    section: SdwanSection | undefined,
    log: Log,
  ): Promise<string[]> => {
    const problems: string[] = [];
    const half = async (
      key: string,
      wanted: boolean,
      binary: string,
      module: string,
      run: () => Promise<Record<string, string> | undefined>,
      stop: () => Promise<void>,
    ) => {
      if (!wanted || !ovn) return stop();
      if (!root || !deps.ovs?.has(root, binary)) {
        await stop();
        problems.push(`OVN ${key} not applied: missing ${binary} (assign the ${module} module)`);
        return;
      }
      try {
        const payload = await run();
        failed.delete(key);
        if (payload) deps.phases.record(EVENTS.sdwanOvnApplied.kind, { payload: { role: key, ...payload } });
      } catch (err) {
        const msg = `OVN ${key}: ${errMsg(err)}`;
        if (failed.get(key) !== msg) log.warn(`sdwan: ${msg}`);
        failed.set(key, msg);
        problems.push(msg);
      }
    };
    const central = section?.ovnCentral;
    await half(
      "central",
      central !== undefined,
      OVN_NORTHD,
      "ovn-central",
      async () => {
        if (!central || !ovn || !root) return undefined;
        const r = await ovn.ensureCentral(root, central, log);
        return r.plan
          ? { deployment: central.deployment, sha256: r.plan.sha256, commands: String(r.plan.commands) }
          : undefined;
      },
      async () => ovn?.stopCentral(log),
    );
    const control = section?.ovnControl;
    await half(
      "chassis",
      control !== undefined && ovsUp,
      OVN_CONTROLLER,
      "ovn-host",
      async () => {
        if (!control || !ovn || !root) return undefined;
        const r = await ovn.ensureChassis(root, control, log);
        return r.ports
          ? { deployment: control.deployment, chassis: control.systemId, ports: r.ports.join(",") }
          : undefined;
      },
      async () => ovn?.stopChassis(log),
    );
    return problems;
  };
  /** Per VRF: the routing last reported in an event. */
  const reported = new Map<string, string>();
  /** The last error per bridge (an event per new error, not per pass). */
  const failed = new Map<string, string>();
  return definePollingController({
    name: "sdwan",
    // The composed root matters only to FRR and OVS (an input nothing writes would be refused).
    inputs: deps.frr || deps.ovs ? [DesiredNodeState, ModuleSetStatus] : [DesiredNodeState],
    outputs: [SdwanStatus],
    pollMs: SDWAN_POLL_MS,
    async reconcile(ctx) {
      const section = ctx.get(DesiredNodeState, "node")?.spec.sdwan;
      const bridges = section?.bridges ?? [];
      const plan = planBridges(bridges, os.list(), ovs !== undefined);
      const root = frr || ovs ? ctx.get(ModuleSetStatus, "node")?.spec.root : undefined;
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
      const ovsPresent = new Set<string>();
      const ovsBridges = bridges.filter((b) => b.kind === "ovs");
      const ovnControl = section?.ovnControl;
      let ovsUp = false;
      if ((ovsBridges.length === 0 && !ovnControl) || !ovs) await ovs?.stop(ctx.log);
      else if (!root || !deps.ovs?.hasOvs(root)) {
        await ovs.stop(ctx.log);
        errors.push(`OVS bridges not applied: missing ${OVS_VSWITCHD} (assign the openvswitch module)`);
      } else
        try {
          const r = await ovs.ensure(root, ovsBridges, ctx.log);
          failed.delete("ovs");
          for (const b of r.bridges) ovsPresent.add(b);
          for (const name of r.added)
            deps.phases.record(EVENTS.sdwanBridgeUp.kind, { payload: bridgePayload(name) });
          for (const name of r.deleted)
            deps.phases.record(EVENTS.sdwanBridgeDeleted.kind, { payload: bridgePayload(name) });
          if (r.commands.length > 0)
            deps.phases.record(EVENTS.sdwanOvsApplied.kind, { payload: ovsPayload(ovsBridges, r) });
          ovsUp = true;
        } catch (err) {
          const msg = `Open vSwitch: ${errMsg(err)}`;
          if (failed.get("ovs") !== msg) ctx.log.warn(`sdwan: ${msg}`);
          failed.set("ovs", msg);
          errors.push(msg);
        }
      errors.push(...(await ovnPass(ovsUp, root, section, ctx.log)));
      const vrfs = section?.vrfs ?? [];
      const waiting: string[] = [];
      if (vrfOs) {
        const vp = planVrfs(
          vrfs,
          vrfOs.links(),
          (d) => vrfOs.masterOf(d),
          (d) => vrfOs.addresses(d),
        );
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
        for (const a of vp.address) {
          const what = `router address ${a.address} on ${a.vrf}`;
          await step(
            what,
            what,
            () => vrfOs.addAddress(a.vrf, a.address, 128),
            EVENTS.sdwanRouterAddress.kind,
            {
              vrf: a.vrf,
              routerAddress: a.address,
            },
          );
        }
        for (const l of vp.linkLocal) {
          const what = `link-local ${l.address} on ${l.dev} (for BGP)`;
          await step(what, what, () => vrfOs.addAddress(l.dev, l.address, 64), EVENTS.sdwanLinkLocal.kind, {
            interface: l.dev,
            linkLocal: l.address,
          });
        }
        for (const d of vp.delete) {
          const what = `vrf ${d} deleted`;
          await step(what, what, () => vrfOs.del(d), EVENTS.sdwanVrfDeleted.kind, { vrf: d });
        }
        waiting.push(...vp.waiting);
      } else if (vrfs.length > 0)
        errors.push("VRFs: not applied on this node (no VRF support in the agent's OS side)");
      const routing: VrfRouting[] = [];
      const config = section?.frrConfig ?? "";
      if (!config) await frr?.stop(ctx.log);
      else if (!frr)
        errors.push("frr.conf compiled by the hub is not applied: no FRR support in the agent's OS side");
      else if (!root || !deps.frr?.hasFrr(root)) {
        await frr.stop(ctx.log);
        errors.push(`frr.conf not applied: missing ${BGPD} (assign the frr module)`);
      } else
        try {
          const pushed = await frr.ensure(root, config, ctx.log);
          if (pushed) deps.phases.record(EVENTS.sdwanFrrApplied.kind, { payload: { ...pushed } });
          routing.push(
            ...(await frr.read(
              root,
              vrfs.filter((v) => OUR_VRF.test(v.vrfName)),
            )),
          );
          failed.delete("frr");
        } catch (err) {
          const msg = `FRR: ${errMsg(err)}`;
          if (failed.get("frr") !== msg) ctx.log.warn(`sdwan: ${msg}`);
          failed.set("frr", msg);
          errors.push(msg);
        }
      for (const r of routing) {
        const key = routingKey(r);
        if (reported.get(r.vrf) === key) continue;
        reported.set(r.vrf, key);
        ctx.log.info(
          `sdwan: ${r.vrf}: peers [${r.established.join(" ")}], learned [${r.learned.join(" ")}], imported [${r.imported.join(" ")}]; routes [${(r.hops ?? []).join("; ")}]`,
        );
        deps.phases.record(EVENTS.sdwanBgpRoutes.kind, {
          payload: {
            vrf: r.vrf,
            established: r.established.join(","),
            learned: r.learned.join(","),
            imported: r.imported.join(","),
          },
        });
      }
      const present = new Set(os.list());
      ctx.set(SdwanStatus, "node", {
        bridges: bridges.map((b) => ({
          name: b.name,
          kind: b.kind,
          state: b.state,
          present: present.has(b.name) || ovsPresent.has(b.name),
        })),
        vrfs: vrfs.map((v) => ({
          name: v.vrfName,
          table: v.tableId,
          interface: v.interfaceName,
          enslaved: vrfOs?.masterOf(v.interfaceName) === v.vrfName,
        })),
        routing,
      });
      const problems = [
        ...errors,
        ...plan.unsupported.map((u) => `${u.name}: ${u.reason}`),
        ...waiting.map((w) => `${w}: waiting for the interface (its VRF is ready)`),
      ];
      const up = bridges.filter(
        (b) => b.state === "active" && (present.has(b.name) || ovsPresent.has(b.name)),
      ).length;
      ctx.condition(
        problems.length === 0,
        problems.length === 0 ? (bridges.length === 0 ? "NoBridges" : "Ready") : "Degraded",
        [`${up} bridge(s) up`, ...problems].join("; "),
      );
    },
    async stop(ctx) {
      await frr?.stop(ctx.log);
      await ovn?.stop(ctx.log);
      await ovs?.stop(ctx.log);
    },
  });
}

/** The `system.sdwan.ovs.applied` payload: commands run, active bridges, tunnels, IPFIX targets. */
function ovsPayload(bridges: readonly HostBridge[], r: OvsApplied): Record<string, string> {
  const active = bridges.filter((b) => b.state === "active");
  return {
    commands: String(r.commands.length),
    bridges: r.bridges.join(","),
    tunnels: String(active.reduce((n, b) => n + b.tunnels.length, 0)),
    ipfix: [...new Set(active.flatMap((b) => b.ipfix?.targets ?? []))].join(","),
  };
}
