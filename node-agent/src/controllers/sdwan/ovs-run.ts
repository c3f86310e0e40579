/**
 * Open vSwitch on the node for the sdwan controller: ovsdb-server and ovs-vswitchd supervised in the
 * composed root (the openvswitch module), the database read back each pass and the commands of
 * ovs-plan.ts run when it differs from the section, then each active bridge's internal interface set
 * up with its segment address. A new composed root starts both again in it; the controller stops
 * them when the section names no OVS bridge.
 */
import type { HostBridge } from "@powernode/proto";
import type { Log } from "../../log.ts";
import { OVS_DAEMONS, type OvsDaemon, type OvsOs, ovsDaemonArgv, parseOvsJson } from "../../sys/ovs.ts";
import { type Supervisor, startSupervisor } from "../modules/supervisor.ts";
import { observeOvs, planOvs } from "./ovs-plan.ts";

/** How long a (re)started ovsdb-server may take to answer (slow under emulation). */
export const OVS_START_MS = 20_000;

export interface OvsApplied {
  /** The ovs-vsctl commands run this pass (each as one line). */
  commands: string[];
  /** Active bridges now in the database. */
  bridges: string[];
  /** Bridges added and deleted this pass. */
  added: string[];
  deleted: string[];
}

export interface OvsRun {
  /** Makes the database match `bridges`; resolves with what it ran (empty when nothing differed). */
  ensure(root: string, bridges: readonly HostBridge[], log: Log): Promise<OvsApplied>;
  stop(log: Log): Promise<void>;
}

export function ovsRun(os: OvsOs): OvsRun {
  let root: string | undefined;
  const sup = new Map<OvsDaemon, Supervisor>();
  const start = (d: OvsDaemon, at: string, log: Log) =>
    sup.set(
      d,
      startSupervisor(
        at,
        [{ module: "openvswitch", service: { name: d, exec: ovsDaemonArgv(d), restart: "always" } }],
        { sys: os, log },
      ),
    );
  const stop = async (log: Log) => {
    for (const d of [...OVS_DAEMONS].reverse()) {
      await sup.get(d)?.stop();
      sup.delete(d);
    }
    if (root) log.info("sdwan: Open vSwitch stopped");
    root = undefined;
  };
  const list = async (at: string, table: string) =>
    parseOvsJson(await os.vsctl(at, ["--format=json", "list", table]));

  return {
    stop,
    async ensure(at, bridges, log) {
      if (root !== undefined && root !== at) await stop(log);
      if (root === undefined) {
        root = at;
        try {
          await os.prepare(at);
          start("ovsdb-server", at, log);
          const until = Date.now() + OVS_START_MS;
          while (!(await os.ready(at))) {
            if (Date.now() > until)
              throw new Error(`Open vSwitch: ovsdb-server not answering after ${OVS_START_MS / 1000} s`);
            await Bun.sleep(200);
          }
          await os.vsctl(at, ["--no-wait", "init"]);
          start("ovs-vswitchd", at, log);
        } catch (err) {
          // Nothing half-started stays behind: the next pass starts from scratch.
          await stop(log);
          throw err;
        }
        log.info("sdwan: Open vSwitch started (ovsdb-server, ovs-vswitchd)");
      }
      const seen = observeOvs({
        bridge: await list(at, "bridge"),
        port: await list(at, "port"),
        interface: await list(at, "interface"),
        ipfix: await list(at, "ipfix"),
      });
      const commands = planOvs(bridges, seen);
      for (const c of commands) await os.vsctl(at, c);
      if (commands.length > 0)
        log.info(`sdwan: ovs-vsctl ran ${commands.map((c) => c.join(" ")).join("; ")}`);
      const active = bridges.filter((b) => b.kind === "ovs" && b.state === "active");
      for (const b of active) {
        await os.linkUp(b.name);
        if (b.address) await os.ensureAddress(b.name, b.address);
      }
      const named = (verb: string) => commands.filter((c) => c[1] === verb).map((c) => c[2] ?? "");
      return {
        commands: commands.map((c) => c.join(" ")),
        bridges: active.map((b) => b.name),
        added: named("add-br"),
        deleted: named("del-br"),
      };
    },
  };
}
