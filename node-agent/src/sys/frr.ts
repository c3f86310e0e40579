/**
 * The OS side of FRR on a node (the frr module in the composed root): the daemons' argv (zebra and
 * bgpd in the foreground, as root, no TCP vty, logging to stdout for the agent), the files they need
 * (vtysh.conf with the integrated config, the `frr` and `frrvty` groups the packages' maintainer
 * scripts would have made, the run directory), frr.conf written only when it changed, each daemon's
 * readiness (its vty socket and a pid file naming the supervised process) and `vtysh` runs chrooted
 * into the composed root. Builders and the group-file edit are pure; tests check them.
 */
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { chrootRun, socketAnswers } from "./chroot-run.ts";
import type { Exec } from "./exec.ts";
import { writeFileAtomic } from "./files.ts";
import type { ModuleSys } from "./module-sys.ts";

export const FRR_DAEMONS = ["zebra", "bgpd"] as const;
export type FrrDaemon = (typeof FRR_DAEMONS)[number];
export const FRR_CONF = "/etc/frr/frr.conf";
export const VTYSH_CONF = "/etc/frr/vtysh.conf";
export const FRR_RUN_DIR = "/var/run/frr";
export const BGPD = "/usr/lib/frr/bgpd";
/** vtysh reads the one frr.conf; root needs no PAM login (there is no PAM configuration on nodes). */
export const VTYSH_CONF_TEXT = "service integrated-vtysh-config\nusername root nopassword\n";

/**
 * A daemon in the foreground under the agent's supervisor: root (no `frr` user on nodes), no TCP vty
 * (vtysh talks over the unix socket), no config file of its own (vtysh -b pushes frr.conf to it).
 */
export const frrDaemonArgv = (d: FrrDaemon) => [
  `/usr/lib/frr/${d}`,
  "-u",
  "root",
  "-g",
  "root",
  "-P",
  "0",
  "--log",
  "stdout",
  "-f",
  "/dev/null",
];

/** `vtysh -b`: reads frr.conf and sends each daemon its part. */
export const vtyshApplyArgv = () => ["/usr/bin/vtysh", "-b"];
export const vtyshShowArgv = (command: string) => ["/usr/bin/vtysh", "-c", command];

/**
 * /etc/group with the groups FRR's daemons check at start: `frr`, and `frrvty` with root in it (the
 * vty group; a daemon started as a user outside it refuses to run). Lines already there are kept.
 */
export function withFrrGroups(group: string): string {
  const lines = group.split("\n").filter((l) => l !== "");
  const names = new Set(lines.map((l) => l.split(":")[0]));
  const gids = new Set(lines.map((l) => l.split(":")[2]));
  const free = (from: number) => {
    let g = from;
    while (gids.has(String(g))) g--;
    gids.add(String(g));
    return g;
  };
  if (!names.has("frr")) lines.push(`frr:x:${free(999)}:`);
  const vty = lines.findIndex((l) => l.startsWith("frrvty:"));
  if (vty < 0) lines.push(`frrvty:x:${free(999)}:root`);
  else {
    const f = (lines[vty] as string).split(":");
    const members = (f[3] ?? "").split(",").filter((m) => m !== "");
    if (!members.includes("root")) lines[vty] = [...f.slice(0, 3), [...members, "root"].join(",")].join(":");
  }
  return `${lines.join("\n")}\n`;
}

export interface FrrOs {
  /** True when the composed root has bgpd (the frr module is mounted). */
  hasFrr(root: string): boolean;
  /** The groups, vtysh.conf and the run directory in the composed root. */
  prepare(root: string): void;
  /** Writes frr.conf when it differs; true when it did. */
  writeConfig(root: string, text: string): boolean;
  /**
   * True once the daemon supervised as `pid` is its pid file's and accepts a connection on its vty
   * socket (a socket file left by the daemon it replaced refuses).
   */
  ready(root: string, daemon: FrrDaemon, pid: number): Promise<boolean>;
  /** Runs vtysh in the composed root; its stdout, or throws with its output on a non-zero exit. */
  vtysh(root: string, argv: readonly string[]): Promise<string>;
  spawnService: ModuleSys["spawnService"];
}

const readOr = (path: string, fallback: string) => {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return fallback;
  }
};

export function createFrrOs(exec: Exec, sys: Pick<ModuleSys, "spawnService">): FrrOs {
  return {
    hasFrr: (root) => existsSync(join(root, BGPD)),
    prepare(root) {
      const group = join(root, "etc/group");
      const have = readOr(group, "");
      const want = withFrrGroups(have);
      if (want !== have) writeFileAtomic(group, want, 0o644);
      if (readOr(join(root, VTYSH_CONF), "") !== VTYSH_CONF_TEXT)
        writeFileAtomic(join(root, VTYSH_CONF), VTYSH_CONF_TEXT, 0o644);
      mkdirSync(join(root, FRR_RUN_DIR), { recursive: true, mode: 0o755 });
    },
    writeConfig(root, text) {
      const path = join(root, FRR_CONF);
      if (readOr(path, "") === text) return false;
      writeFileAtomic(path, text, 0o640);
      return true;
    },
    async ready(root, daemon, pid) {
      const dir = join(root, FRR_RUN_DIR);
      if (readOr(join(dir, `${daemon}.pid`), "").trim() !== String(pid)) return false;
      return socketAnswers(dir, `${daemon}.vty`);
    },
    vtysh: (root, argv) => chrootRun(exec, root, argv, 20_000),
    spawnService: (o) => sys.spawnService(o),
  };
}
