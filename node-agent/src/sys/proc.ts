/**
 * Readers of /proc: uptime (CLOCK_BOOTTIME), the kernel command line, per-process state (zombies, RSS,
 * start time). Every function takes the proc root so tests can point it at a temp dir.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

/** USER_HZ: the unit of /proc/<pid>/stat times; 100 on every Linux architecture the agent runs on. */
const USER_HZ = 100;

/** Seconds since the kernel started, from /proc/uptime (CLOCK_BOOTTIME, counts suspend). */
export function readUptimeSeconds(procRoot = "/proc"): number {
  const first = readFileSync(join(procRoot, "uptime"), "utf8").split(" ")[0] ?? "";
  const v = Number.parseFloat(first);
  if (!Number.isFinite(v)) throw new Error(`${procRoot}/uptime: cannot parse "${first}"`);
  return v;
}

/** The kernel command line, from /proc/cmdline. */
export function readKernelCmdline(procRoot = "/proc"): string {
  return readFileSync(join(procRoot, "cmdline"), "utf8").trim();
}

/** The fields of /proc/<pid>/stat the agent uses. */
export interface ProcStat {
  pid: number;
  comm: string;
  state: string;
  ppid: number;
  /** Field 22: when the process started, in seconds since boot. */
  startSeconds: number;
}

/** Parses one /proc/<pid>/stat line; comm may hold spaces and parentheses, so split after the last ")". */
export function parseProcStat(line: string): ProcStat | undefined {
  const open = line.indexOf("(");
  const close = line.lastIndexOf(")");
  if (open < 0 || close < open) return undefined;
  const rest = line
    .slice(close + 2)
    .trim()
    .split(/\s+/);
  const pid = Number.parseInt(line.slice(0, open), 10);
  const state = rest[0];
  const ppid = Number.parseInt(rest[1] ?? "", 10);
  // rest[0] is field 3 (state), so field 22 (starttime) is rest[19].
  const start = Number.parseInt(rest[19] ?? "", 10);
  if (!Number.isFinite(pid) || state === undefined || !Number.isFinite(ppid)) return undefined;
  return { pid, comm: line.slice(open + 1, close), state, ppid, startSeconds: start / USER_HZ };
}

/** Reads /proc/<pid>/stat ("self" allowed); undefined if the process is gone. */
export function readProcStat(pid: number | "self", procRoot = "/proc"): ProcStat | undefined {
  try {
    return parseProcStat(readFileSync(join(procRoot, String(pid), "stat"), "utf8"));
  } catch {
    // The process exited between readdir and read: not an error for a scan.
    return undefined;
  }
}

/** Every process in the proc root (the numeric directories). */
export function listProcesses(procRoot = "/proc"): ProcStat[] {
  const out: ProcStat[] = [];
  for (const name of readdirSync(procRoot)) {
    if (!/^\d+$/.test(name)) continue;
    const st = readProcStat(Number(name), procRoot);
    if (st) out.push(st);
  }
  return out;
}

/** Zombie processes (state Z); with `parentPid`, only those whose parent is that pid. */
export function listZombies(procRoot = "/proc", parentPid?: number): ProcStat[] {
  return listProcesses(procRoot).filter(
    (p) => p.state === "Z" && (parentPid === undefined || p.ppid === parentPid),
  );
}

/** Resident set size of a process in bytes, from the VmRSS line of /proc/<pid>/status. */
export function readRssBytes(pid: number | "self" = "self", procRoot = "/proc"): number {
  const status = readFileSync(join(procRoot, String(pid), "status"), "utf8");
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  if (!m?.[1]) throw new Error(`${procRoot}/${pid}/status: no VmRSS line`);
  return Number(m[1]) * 1024;
}
