/**
 * Open vSwitch from the built `openvswitch` module's Debian packages (module-tools.ts), in a temp dir on
 * the host, its daemons inside a lab's network namespace (its bridges' interfaces live and send there,
 * and it reaches the host only at the lab's host end): ovsdb-server on a fresh conf.db and ovs-vswitchd
 * with the userspace (netdev) datapath, as the host has no openvswitch kernel module. The agent's own
 * ovs-plan.ts commands are run against it with the real ovs-vsctl, and the database read back the way
 * the agent reads it.
 */
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import type { HostBridge } from "@powernode/proto";
import type { BuiltModule } from "../../hub/src/modules/index.ts";
import { type ObservedOvs, observeOvs, planOvs } from "../../node-agent/src/controllers/sdwan/ovs-plan.ts";
import { parseOvsJson } from "../../node-agent/src/sys/ovs.ts";
import { moduleTools } from "./module-tools.ts";
import { waitFor } from "./wait.ts";

export interface HostOvs {
  /** Makes the bridge with the netdev datapath (the host has no kernel one) and sets it up. */
  addNetdevBridge(name: string): Promise<void>;
  /** planOvs for `bridges` against the database, each command run; returns the commands. */
  apply(bridges: readonly HostBridge[]): Promise<string[][]>;
  observe(): Promise<ObservedOvs>;
  close(): Promise<void>;
}

export async function hostOvs(openvswitch: BuiltModule, netns: string): Promise<HostOvs> {
  const inNs = (argv: string[]) => ["ip", "netns", "exec", netns, ...argv];
  const tools = await moduleTools(openvswitch);
  const dir = join(tools.root, "run");
  mkdirSync(dir, { recursive: true });
  const db = join(dir, "conf.db");
  const sock = join(dir, "db.sock");
  const env = { ...tools.env, OVS_RUNDIR: dir, OVS_DBDIR: dir, OVS_LOGDIR: dir };
  const made = await tools.run("usr/bin/ovsdb-tool", [
    "create",
    db,
    join(tools.root, "usr/share/openvswitch/vswitch.ovsschema"),
  ]);
  if (made.exitCode !== 0) throw new Error(`ovsdb-tool create: ${made.stderr.trim()}`);
  const quiet = { env, stdout: "ignore", stderr: "ignore" } as const;
  const server = Bun.spawn(
    inNs([
      join(tools.root, "usr/sbin/ovsdb-server"),
      db,
      `--remote=punix:${sock}`,
      `--unixctl=${join(dir, "ovsdb-server.ctl")}`,
      "--no-chdir",
      `--log-file=${join(dir, "ovsdb-server.log")}`,
    ]),
    quiet,
  );
  await waitFor("ovsdb-server's socket", () => existsSync(sock), { timeoutMs: 10_000, intervalMs: 50 });
  const vsctl = async (args: readonly string[]) => {
    const r = await tools.exec.run(
      join(tools.root, "usr/bin/ovs-vsctl"),
      [`--db=unix:${sock}`, "--timeout=20", ...args],
      { env, allowFailure: true, timeoutMs: 30_000 },
    );
    if (r.exitCode !== 0) throw new Error(`ovs-vsctl ${args.join(" ")}: ${r.stderr.trim()}`);
    return r.stdout;
  };
  await vsctl(["--no-wait", "init"]);
  const switchd = Bun.spawn(
    inNs([
      join(tools.root, "usr/lib/openvswitch-switch/ovs-vswitchd"),
      `unix:${sock}`,
      `--unixctl=${join(dir, "ovs-vswitchd.ctl")}`,
      "--no-chdir",
      `--log-file=${join(dir, "ovs-vswitchd.log")}`,
    ]),
    quiet,
  );
  const list = async (table: string) => parseOvsJson(await vsctl(["--format=json", "list", table]));
  const observe = async () =>
    observeOvs({
      bridge: await list("bridge"),
      port: await list("port"),
      interface: await list("interface"),
      ipfix: await list("ipfix"),
    });
  return {
    async addNetdevBridge(name) {
      await vsctl(["--may-exist", "add-br", name, "--", "set", "bridge", name, "datapath_type=netdev"]);
      await tools.exec.run("ip", ["-n", netns, "link", "set", "dev", name, "up"], { timeoutMs: 10_000 });
    },
    async apply(bridges) {
      const plan = planOvs(bridges, await observe());
      for (const c of plan) await vsctl(c);
      return plan;
    },
    observe,
    async close() {
      for (const p of [switchd, server]) {
        p.kill();
        await p.exited;
      }
      tools.close();
    },
  };
}
