/**
 * Mounts, through mount(2) (no mount binary needed). The early pseudo-filesystem plan is pure data so
 * it can be checked in tests; a {@link Mounter} is injected so tests record instead of mounting.
 */
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { LibcError, MS_NODEV, MS_NOEXEC, MS_NOSUID, MS_RELATIME, mount } from "./libc.ts";

export interface MountSpec {
  source: string;
  /** Absolute path on the node (joined to the root dir when one is given). */
  target: string;
  fstype: string;
  flags: number;
  data?: string;
  /** A failure is logged, not fatal (cgroup2 on a kernel without it). */
  optional?: boolean;
}

/** Performs one mount; the real one calls mount(2). */
export interface Mounter {
  mount(spec: MountSpec, target: string): void;
}

/** The real mounter. */
export const libcMounter: Mounter = {
  mount: (s, target) => mount(s.source, target, s.fstype, s.flags, s.data),
};

/** The mounts PID 1 makes before anything else, in order. */
export function earlyMounts(): MountSpec[] {
  const base = MS_NOSUID | MS_RELATIME;
  return [
    { source: "proc", target: "/proc", fstype: "proc", flags: base | MS_NODEV | MS_NOEXEC },
    { source: "sysfs", target: "/sys", fstype: "sysfs", flags: base | MS_NODEV | MS_NOEXEC },
    { source: "devtmpfs", target: "/dev", fstype: "devtmpfs", flags: base, data: "mode=0755" },
    {
      source: "devpts",
      target: "/dev/pts",
      fstype: "devpts",
      flags: base | MS_NOEXEC,
      data: "mode=0620,ptmxmode=0666",
    },
    { source: "tmpfs", target: "/dev/shm", fstype: "tmpfs", flags: base | MS_NODEV, data: "mode=1777" },
    { source: "tmpfs", target: "/run", fstype: "tmpfs", flags: base | MS_NODEV, data: "mode=0755" },
    { source: "tmpfs", target: "/tmp", fstype: "tmpfs", flags: base | MS_NODEV, data: "mode=1777" },
    {
      source: "cgroup2",
      target: "/sys/fs/cgroup",
      fstype: "cgroup2",
      flags: base | MS_NODEV | MS_NOEXEC,
      optional: true,
    },
  ];
}

/** One line of /proc/self/mounts (paths keep their octal escapes). */
export interface MountEntry {
  source: string;
  target: string;
  fstype: string;
}

/** Parses /proc/self/mounts: `source target fstype options dump pass` per line. */
export function parseMounts(text: string): MountEntry[] {
  return text
    .split("\n")
    .map((l) => l.split(" "))
    .filter((f) => f.length >= 3 && f[1] !== "")
    .map((f) => ({ source: f[0] as string, target: f[1] as string, fstype: f[2] as string }));
}

/** Mount points already mounted, from <root>/proc/self/mounts (empty before /proc is up). */
export function mountedTargets(root = "/"): Set<string> {
  const f = join(root, "proc/self/mounts");
  if (!existsSync(f)) return new Set();
  return new Set(parseMounts(readFileSync(f, "utf8")).map((m) => m.target));
}

export interface MountOutcome {
  target: string;
  result: "mounted" | "already" | "failed";
  error?: string;
}

/**
 * Mounts each spec under `root` in order, creating mount points; already-mounted targets (EBUSY or
 * listed in /proc/self/mounts) are left alone. Throws on a failed non-optional mount.
 */
export function mountAll(specs: readonly MountSpec[], mounter: Mounter, root = "/"): MountOutcome[] {
  const out: MountOutcome[] = [];
  for (const s of specs) {
    const target = join(root, s.target);
    if (mountedTargets(root).has(s.target)) {
      out.push({ target: s.target, result: "already" });
      continue;
    }
    try {
      mkdirSync(target, { recursive: true });
      mounter.mount(s, target);
      out.push({ target: s.target, result: "mounted" });
    } catch (err) {
      if (err instanceof LibcError && err.errno === 16) {
        out.push({ target: s.target, result: "already" });
        continue;
      }
      const msg = err instanceof Error ? err.message : String(err);
      if (!s.optional) throw new Error(`mounting ${s.fstype} on ${s.target}: ${msg}`, { cause: err });
      out.push({ target: s.target, result: "failed", error: msg });
    }
  }
  return out;
}
