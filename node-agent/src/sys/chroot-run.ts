/**
 * What the daemons of a composed root share on the agent's side: a program run chrooted into the root
 * (busybox's chroot applet), and whether a unix socket there accepts a connection.
 */
import { join } from "node:path";
import type { Exec } from "./exec.ts";

/** Runs `argv` chrooted into `root`; its stdout, or throws with the end of its output. */
export async function chrootRun(exec: Exec, root: string, argv: readonly string[], timeoutMs: number) {
  const r = await exec.run("/bin/busybox", ["chroot", root, ...argv], { timeoutMs, allowFailure: true });
  if (r.exitCode !== 0)
    throw new Error(`${argv.join(" ")}: exit ${r.exitCode}: ${`${r.stdout}${r.stderr}`.trim().slice(-400)}`);
  return r.stdout;
}

/** True when the unix socket `<root><socket>` accepts a connection (a stale socket file refuses). */
export async function socketAnswers(root: string, socket: string): Promise<boolean> {
  try {
    const s = await Bun.connect({ unix: join(root, socket), socket: { data() {} } });
    s.end();
    return true;
  } catch {
    return false;
  }
}
