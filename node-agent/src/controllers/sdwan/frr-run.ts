/**
 * FRR on the node for the sdwan controller: zebra and bgpd supervised in the composed root, the hub's
 * frr.conf pushed to them with `vtysh -b` whenever it changed or a daemon (re)started, and what they
 * route read back (frr-state.ts). A changed frr.conf restarts bgpd before it is pushed: `vtysh -b`
 * only adds, and a revoked leak or a gone neighbour must go (zebra keeps running, and with it the
 * routes of other daemons). A new composed root starts both again in it.
 */
import { createHash } from "node:crypto";
import type { Vrf } from "@powernode/proto";
import type { Log } from "../../log.ts";
import {
  FRR_DAEMONS,
  type FrrDaemon,
  type FrrOs,
  frrDaemonArgv,
  vtyshApplyArgv,
  vtyshShowArgv,
} from "../../sys/frr.ts";
import { type Supervisor, startSupervisor } from "../modules/supervisor.ts";
import { establishedPeers, installedBgpRoutes, type VrfRouting } from "./frr-state.ts";

/** How long a (re)started daemon may take to open its vty socket (slow under emulation). */
export const FRR_START_MS = 20_000;

export interface FrrApplied {
  /** The sha256 of the frr.conf pushed, and why it was pushed. */
  sha256: string;
  reason: "started" | "changed" | "restarted";
}

export interface FrrRun {
  /**
   * Runs the daemons in `root` with `config`; resolves with what was pushed this time (if anything).
   * Throws naming the daemon that does not come up.
   */
  ensure(root: string, config: string, log: Log): Promise<FrrApplied | undefined>;
  /** Per VRF of the section: its sessions and installed routes. */
  read(
    root: string,
    vrfs: readonly Pick<Vrf, "vrfName" | "tableId" | "interfaceName">[],
  ): Promise<VrfRouting[]>;
  stop(log: Log): Promise<void>;
}

export function frrRun(os: FrrOs): FrrRun {
  let root: string | undefined;
  const sup = new Map<FrrDaemon, Supervisor>();
  /** The config and daemon pids it was last pushed to. */
  let applied = { sha256: "", pids: "" };
  /** The config the running bgpd was started for (a failed push is retried, not restarted for). */
  let bgpdFor = "";

  const start = (d: FrrDaemon, at: string, log: Log) =>
    sup.set(
      d,
      startSupervisor(
        at,
        [{ module: "frr", service: { name: d, exec: frrDaemonArgv(d), restart: "always" } }],
        {
          sys: os,
          log,
        },
      ),
    );
  const stopDaemon = async (d: FrrDaemon) => {
    await sup.get(d)?.stop();
    sup.delete(d);
  };
  /** The supervised pids once every daemon answers; throws after FRR_START_MS. */
  const readyPids = async (at: string): Promise<string> => {
    const until = Date.now() + FRR_START_MS;
    for (;;) {
      const pids = FRR_DAEMONS.map((d) => sup.get(d)?.status()[0]?.pid);
      const waiting: FrrDaemon[] = [];
      for (const [i, d] of FRR_DAEMONS.entries()) {
        const pid = pids[i];
        if (pid === undefined || !(await os.ready(at, d, pid))) waiting.push(d);
      }
      if (waiting.length === 0) return pids.join("/");
      if (Date.now() > until)
        throw new Error(`FRR: ${waiting.join(" and ")} not answering after ${FRR_START_MS / 1000} s`);
      await Bun.sleep(200);
    }
  };

  const stop = async (log: Log) => {
    for (const d of [...FRR_DAEMONS].reverse()) await stopDaemon(d);
    if (root) log.info("sdwan: FRR stopped");
    root = undefined;
    applied = { sha256: "", pids: "" };
    bgpdFor = "";
  };

  return {
    stop,
    async ensure(at, config, log) {
      if (root !== undefined && root !== at) await stop(log);
      // Groups, vtysh.conf and the run directory once per root, before the daemons need them.
      if (root === undefined) os.prepare(at);
      const changed = os.writeConfig(at, config);
      const sha256 = createHash("sha256").update(config).digest("hex");
      let reason: FrrApplied["reason"] = "restarted";
      if (root === undefined) {
        root = at;
        for (const d of FRR_DAEMONS) start(d, at, log);
        reason = "started";
      } else if (changed || bgpdFor !== sha256) {
        await stopDaemon("bgpd");
        start("bgpd", at, log);
        reason = "changed";
      } else if (applied.sha256 !== sha256) reason = "changed";
      bgpdFor = sha256;
      const pids = await readyPids(at);
      if (applied.sha256 === sha256 && applied.pids === pids) return undefined;
      await os.vtysh(at, vtyshApplyArgv());
      applied = { sha256, pids };
      log.info(`sdwan: FRR runs frr.conf ${sha256.slice(0, 12)} (${reason}; zebra/bgpd pids ${pids})`);
      return { sha256, reason };
    },
    async read(at, vrfs) {
      const peers = establishedPeers(
        await os.vtysh(at, vtyshShowArgv("show bgp vrf all ipv6 unicast summary json")),
      );
      const out: VrfRouting[] = [];
      for (const v of vrfs) {
        const routes = installedBgpRoutes(
          await os.vtysh(at, vtyshShowArgv(`show ipv6 route vrf ${v.vrfName} json`)),
          { name: v.vrfName, table: v.tableId, interfaceName: v.interfaceName },
        );
        out.push({ vrf: v.vrfName, established: peers.get(v.vrfName) ?? [], ...routes });
      }
      return out;
    },
  };
}
