/**
 * The OS side of Open vSwitch on a node (the openvswitch module in the composed root): the daemons'
 * argv (ovsdb-server on the node's conf.db, ovs-vswitchd on the kernel datapath, both in the
 * foreground logging to the console for the agent), the database made once with ovsdb-tool, readiness
 * (the database socket answers), `ovs-vsctl` runs chrooted into the composed root, and what the
 * database holds read back from ovs-vsctl's JSON (parseOvsJson). Builders and parsers are pure; tests
 * check them.
 */
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { chrootRun, socketAnswers } from "./chroot-run.ts";
import type { Exec } from "./exec.ts";
import type { ModuleSys } from "./module-sys.ts";
import { assertIfaceName, ipAddrAddArgs, ipLinkUpArgs } from "./net.ts";

export const OVS_VSWITCHD = "/usr/lib/openvswitch-switch/ovs-vswitchd";
export const OVS_RUN_DIR = "/var/run/openvswitch";
export const OVS_DB = "/etc/openvswitch/conf.db";
export const OVS_SCHEMA = "/usr/share/openvswitch/vswitch.ovsschema";
export const OVS_DB_SOCK = `${OVS_RUN_DIR}/db.sock`;
export const OVS_DAEMONS = ["ovsdb-server", "ovs-vswitchd"] as const;
export type OvsDaemon = (typeof OVS_DAEMONS)[number];

export const ovsDaemonArgv = (d: OvsDaemon): string[] =>
  d === "ovsdb-server"
    ? [
        "/usr/sbin/ovsdb-server",
        OVS_DB,
        `--remote=punix:${OVS_DB_SOCK}`,
        `--unixctl=${OVS_RUN_DIR}/ovsdb-server.ctl`,
        "--no-chdir",
        "-vconsole:warn",
        "-vsyslog:off",
      ]
    : [
        OVS_VSWITCHD,
        `unix:${OVS_DB_SOCK}`,
        `--unixctl=${OVS_RUN_DIR}/ovs-vswitchd.ctl`,
        "--no-chdir",
        "-vconsole:info",
        "-vsyslog:off",
      ];

/** ovs-vsctl on the node's database; it waits for ovs-vswitchd to apply a change, at most 20 s. */
export const vsctlArgv = (args: readonly string[]) => [
  "/usr/bin/ovs-vsctl",
  `--db=unix:${OVS_DB_SOCK}`,
  "--timeout=20",
  ...args,
];

/** ovs-vsctl `--format=json list` output as rows of column -> OVSDB JSON value. */
export function parseOvsJson(text: string): Record<string, unknown>[] {
  const j = JSON.parse(text) as { headings?: unknown; data?: unknown };
  if (!Array.isArray(j.headings) || !Array.isArray(j.data))
    throw new Error("ovs-vsctl JSON: no headings and data");
  const headings = j.headings.map(String);
  return j.data.map((row) => {
    if (!Array.isArray(row)) throw new Error("ovs-vsctl JSON: a row is not an array");
    return Object.fromEntries(headings.map((h, i) => [h, row[i]]));
  });
}

/** An OVSDB atom or set (`["set", [...]]`) as a list of atoms. */
export function ovsSet(v: unknown): unknown[] {
  if (Array.isArray(v) && v[0] === "set" && Array.isArray(v[1])) return v[1];
  return v === undefined ? [] : [v];
}

/** An OVSDB map (`["map", [[k, v], ...]]`) as a record of strings. */
export function ovsMap(v: unknown): Record<string, string> {
  if (!Array.isArray(v) || v[0] !== "map" || !Array.isArray(v[1])) return {};
  return Object.fromEntries(
    (v[1] as unknown[]).filter(Array.isArray).map((kv) => [String(kv[0]), String(kv[1])]),
  );
}

/** The uuid of `["uuid", "<id>"]`, else "". */
export const ovsUuid = (v: unknown): string => (Array.isArray(v) && v[0] === "uuid" ? String(v[1]) : "");

export interface OvsOs {
  /** True when the composed root has ovs-vswitchd (the openvswitch module is mounted). */
  hasOvs(root: string): boolean;
  /** True when the composed root has this program (a module's binary). */
  has(root: string, path: string): boolean;
  /** The run directory, and the database made with ovsdb-tool when there is none. */
  prepare(root: string): Promise<void>;
  /** True once ovsdb-server accepts a connection on its socket. */
  ready(root: string): Promise<boolean>;
  /** Runs ovs-vsctl in the composed root; its stdout, or throws with its output on a non-zero exit. */
  vsctl(root: string, args: readonly string[]): Promise<string>;
  /** Sets a link up (a bridge's internal interface). */
  linkUp(name: string): Promise<void>;
  /** Puts `cidr` (IPv4 or IPv6, with its length) on a link; one already there is fine. */
  ensureAddress(dev: string, cidr: string): Promise<void>;
  /** Makes an OVSDB database file from a schema with ovsdb-tool when missing. */
  createDb(root: string, db: string, schema: string): Promise<void>;
  /** Makes directories of the composed root (run and database directories). */
  makeDirs(root: string, dirs: readonly string[]): void;
  /** Runs a program of the composed root chrooted (ovn-nbctl, ovsdb-tool); its stdout, or throws. */
  run(root: string, argv: readonly string[]): Promise<string>;
  /** True once a unix socket in the composed root accepts a connection. */
  listening(root: string, socket: string): Promise<boolean>;
  spawnService: ModuleSys["spawnService"];
}

export function createOvsOs(exec: Exec, sys: Pick<ModuleSys, "spawnService">): OvsOs {
  const chrooted = (root: string, argv: readonly string[]) => chrootRun(exec, root, argv, 30_000);
  return {
    hasOvs: (root) => existsSync(join(root, OVS_VSWITCHD)),
    has: (root, path) => existsSync(join(root, path)),
    async prepare(root) {
      mkdirSync(join(root, OVS_RUN_DIR), { recursive: true, mode: 0o755 });
      mkdirSync(join(root, "/etc/openvswitch"), { recursive: true, mode: 0o755 });
      if (!existsSync(join(root, OVS_DB)))
        await chrooted(root, ["/usr/bin/ovsdb-tool", "create", OVS_DB, OVS_SCHEMA]);
    },
    ready: (root) => socketAnswers(root, OVS_DB_SOCK),
    listening: (root, socket) => socketAnswers(root, socket),
    run: (root, argv) => chrooted(root, argv),
    async createDb(root, db, schema) {
      if (!existsSync(join(root, db))) await chrooted(root, ["/usr/bin/ovsdb-tool", "create", db, schema]);
    },
    makeDirs(root, dirs) {
      for (const d of dirs) mkdirSync(join(root, d), { recursive: true, mode: 0o755 });
    },
    async ensureAddress(dev, cidr) {
      const [address = "", len = ""] = cidr.split("/");
      const r = await exec.run("ip", ipAddrAddArgs(assertIfaceName(dev), address, Number(len)), {
        timeoutMs: 10_000,
        allowFailure: true,
      });
      if (r.exitCode !== 0 && !/exists/i.test(r.stderr))
        throw new Error(`ip addr add ${cidr} dev ${dev}: ${r.stderr.trim().slice(-200)}`);
    },
    vsctl: (root, args) => chrooted(root, vsctlArgv(args)),
    async linkUp(name) {
      await exec.run("ip", ipLinkUpArgs(assertIfaceName(name)), { timeoutMs: 10_000 });
    },
    spawnService: (o) => sys.spawnService(o),
  };
}
