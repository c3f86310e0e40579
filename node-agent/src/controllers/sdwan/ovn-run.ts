/**
 * OVN on the node for the sdwan controller, both halves, from the modules in the composed root:
 * - central (`ovn_central`, the ovn-central module): the NB and SB databases (ovsdb-server each, made
 *   with ovsdb-tool once, listening on the node's overlay address) and ovn-northd supervised; the
 *   deployment's plan run with ovn-nbctl whenever its sha256 changes (every command `--may-exist`).
 * - chassis (`ovn_control`, the ovn-host module, with Open vSwitch running): the Open_vSwitch
 *   external_ids ovn-controller reads, ovn-controller supervised, and each logical port bound to the
 *   node made as an internal port on br-int (`iface-id`, MAC) with its address.
 * A new composed root starts them again in it; a section without either half stops it.
 */
import type { OvnCentral, OvnControl } from "@powernode/proto";
import type { Log } from "../../log.ts";
import { OVS_DB_SOCK, type OvsOs, ovsMap, parseOvsJson } from "../../sys/ovs.ts";
import { type Supervisor, startSupervisor } from "../modules/supervisor.ts";

export const OVN_RUN_DIR = "/var/run/ovn";
export const OVN_NORTHD = "/usr/bin/ovn-northd";
export const OVN_CONTROLLER = "/usr/bin/ovn-controller";
const NB_SOCK = `${OVN_RUN_DIR}/ovnnb_db.sock`;
const SB_SOCK = `${OVN_RUN_DIR}/ovnsb_db.sock`;
const START_MS = 30_000;
/** The interfaces the agent makes for bound logical ports (the hub's localPort names). */
export const OUR_PORT = /^ovn-[0-9a-f]{10}$/;

const dbServerArgv = (db: "nb" | "sb", listen: string) => [
  "/usr/sbin/ovsdb-server",
  `/var/lib/ovn/ovn${db}_db.db`,
  `--remote=punix:${db === "nb" ? NB_SOCK : SB_SOCK}`,
  `--remote=${listen}`,
  `--unixctl=${OVN_RUN_DIR}/ovn${db}_db.ctl`,
  "--no-chdir",
  "-vconsole:warn",
  "-vsyslog:off",
];
export const northdArgv = () => [
  OVN_NORTHD,
  `--ovnnb-db=unix:${NB_SOCK}`,
  `--ovnsb-db=unix:${SB_SOCK}`,
  `--unixctl=${OVN_RUN_DIR}/ovn-northd.ctl`,
  "--no-chdir",
  "-vconsole:info",
  "-vsyslog:off",
];
export const controllerArgv = () => [
  OVN_CONTROLLER,
  `unix:${OVS_DB_SOCK}`,
  "--no-chdir",
  "-vconsole:info",
  "-vsyslog:off",
];

/** The Open_vSwitch external_ids ovn-controller joins the deployment with. */
export const externalIds = (c: Pick<OvnControl, "systemId" | "sbDbEndpoint" | "encapType" | "encapIp">) => ({
  "system-id": c.systemId,
  "ovn-remote": c.sbDbEndpoint,
  "ovn-encap-type": c.encapType,
  "ovn-encap-ip": c.encapIp,
});

/** ovs-vsctl: the internal port on br-int a logical port is bound through. */
export const localPortArgs = (p: { name: string; interfaceName: string; mac: string }) => [
  "--may-exist",
  "add-port",
  "br-int",
  p.interfaceName,
  "--",
  "set",
  "interface",
  p.interfaceName,
  "type=internal",
  `external_ids:iface-id=${p.name}`,
  `mac="${p.mac}"`,
];

export interface OvnApplied {
  /** Central: the plan just applied (its sha256 and command count). */
  plan?: { sha256: string; commands: number };
  /** Chassis: local ports made this pass. */
  ports?: string[];
}

export function ovnRun(os: OvsOs) {
  /** `key`: the deployment and listeners it was started for (a change restarts the databases). */
  const central = { root: "", key: "", sup: [] as Supervisor[], sha: "" };
  const chassis = { root: "", sup: undefined as Supervisor | undefined };
  const supervise = (at: string, module: string, name: string, exec: string[], log: Log) =>
    startSupervisor(at, [{ module, service: { name, exec, restart: "always" } }], { sys: os, log });
  const waitFor = async (what: string, ok: () => Promise<boolean>) => {
    const until = Date.now() + START_MS;
    while (!(await ok())) {
      if (Date.now() > until) throw new Error(`${what} not answering after ${START_MS / 1000} s`);
      await Bun.sleep(200);
    }
  };

  async function stopCentral(log: Log) {
    for (const s of central.sup.reverse()) await s.stop();
    if (central.root) log.info("sdwan: OVN central stopped");
    Object.assign(central, { root: "", key: "", sup: [], sha: "" });
  }
  async function stopChassis(log: Log) {
    await chassis.sup?.stop();
    if (chassis.root) log.info("sdwan: ovn-controller stopped");
    Object.assign(chassis, { root: "", sup: undefined });
  }

  return {
    stopCentral,
    stopChassis,
    async stop(log: Log) {
      await stopChassis(log);
      await stopCentral(log);
    },
    /** The central half; resolves with the plan when it applied one. */
    async ensureCentral(at: string, c: OvnCentral, log: Log): Promise<OvnApplied> {
      const key = `${c.deployment} ${c.nbListen} ${c.sbListen}`;
      if (central.root && (central.root !== at || central.key !== key)) await stopCentral(log);
      if (!central.root) {
        try {
          os.makeDirs(at, ["/var/lib/ovn", OVN_RUN_DIR]);
          for (const db of ["nb", "sb"] as const)
            await os.createDb(at, `/var/lib/ovn/ovn${db}_db.db`, `/usr/share/ovn/ovn-${db}.ovsschema`);
          central.sup.push(supervise(at, "ovn-central", "ovnnb-db", dbServerArgv("nb", c.nbListen), log));
          central.sup.push(supervise(at, "ovn-central", "ovnsb-db", dbServerArgv("sb", c.sbListen), log));
          await waitFor(
            "the OVN NB and SB databases",
            async () => (await os.listening(at, NB_SOCK)) && os.listening(at, SB_SOCK),
          );
          central.sup.push(supervise(at, "ovn-central", "ovn-northd", northdArgv(), log));
        } catch (err) {
          await stopCentral(log);
          throw err;
        }
        Object.assign(central, { root: at, key });
        log.info(`sdwan: OVN central for ${c.deployment} (NB ${c.nbListen}, SB ${c.sbListen})`);
      }
      if (central.sha === c.planSha256) return {};
      for (const cmd of c.plan) await os.run(at, ["/usr/bin/ovn-nbctl", `--db=unix:${NB_SOCK}`, ...cmd.args]);
      central.sha = c.planSha256;
      log.info(`sdwan: OVN plan ${c.planSha256.slice(0, 12)} applied (${c.plan.length} ovn-nbctl commands)`);
      return { plan: { sha256: c.planSha256, commands: c.plan.length } };
    },
    /** The chassis half (Open vSwitch already running in `at`). */
    async ensureChassis(at: string, c: OvnControl, log: Log): Promise<OvnApplied> {
      if (chassis.root && chassis.root !== at) await stopChassis(log);
      const vsctl = (args: string[]) => os.vsctl(at, args);
      const [ovsRow] = parseOvsJson(
        await vsctl(["--format=json", "--columns=external_ids", "list", "open_vswitch"]),
      );
      const have = ovsMap(ovsRow?.external_ids);
      const want = externalIds(c);
      const differ = Object.entries(want).filter(([k, v]) => have[k] !== v);
      if (differ.length > 0)
        await vsctl(["set", "open_vswitch", ".", ...differ.map(([k, v]) => `external_ids:${k}="${v}"`)]);
      if (!chassis.root) {
        os.makeDirs(at, [OVN_RUN_DIR]);
        chassis.sup = supervise(at, "ovn-host", "ovn-controller", controllerArgv(), log);
        chassis.root = at;
        log.info(`sdwan: ovn-controller for ${c.deployment} (chassis ${c.systemId}, encap ${c.encapIp})`);
      }
      // ovn-controller makes br-int; ports come once it is there.
      const bridges = parseOvsJson(await vsctl(["--format=json", "--columns=name", "list", "bridge"]));
      if (!bridges.some((b) => b.name === "br-int"))
        throw new Error("waiting for ovn-controller to make br-int");
      const ifaces = new Set(
        parseOvsJson(await vsctl(["--format=json", "--columns=name", "list", "interface"])).map((i) =>
          String(i.name),
        ),
      );
      const made: string[] = [];
      // Ports no longer bound here go (only ours: `ovn-` and 10 hex digits).
      const wanted = new Set(c.ports.map((p) => p.interfaceName));
      for (const i of [...ifaces].sort())
        if (OUR_PORT.test(i) && !wanted.has(i)) await vsctl(["--if-exists", "del-port", "br-int", i]);
      for (const p of c.ports) {
        if (!ifaces.has(p.interfaceName)) {
          await vsctl(localPortArgs(p));
          made.push(p.name);
        }
        await os.linkUp(p.interfaceName);
        await os.ensureAddress(p.interfaceName, p.address);
      }
      return made.length > 0 ? { ports: made } : {};
    },
  };
}
