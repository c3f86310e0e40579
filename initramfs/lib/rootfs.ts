/**
 * The initramfs file tree, as cpio entries: the agent, glibc for it, busybox with a few applets, `wg`,
 * the staged kernel modules and a handful of /etc files. Reads files; writes nothing.
 */
import { lstatSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import { type Arch, LIBC_LAYOUT } from "../versions.ts";
import type { CpioEntry } from "./cpio.ts";

/** Busybox applets linked in /bin: what the agent and a human on the console shell out to. */
export const BUSYBOX_APPLETS = [
  "sh",
  "ash",
  "cat",
  "chmod",
  "cp",
  "dmesg",
  "echo",
  "grep",
  "halt",
  "hostname",
  "insmod",
  "ip",
  "kill",
  "ln",
  "ls",
  "lsmod",
  "mkdir",
  "mknod",
  "modprobe",
  "mount",
  "mv",
  "ping",
  "poweroff",
  "ps",
  "reboot",
  "rm",
  "rmmod",
  "sed",
  "sleep",
  "sync",
  "udhcpc",
  "umount",
  "uname",
] as const;

/**
 * glibc pieces bun links against (readelf -d: libc, libm, libpthread, libdl, ld.so) plus what it may
 * dlopen. `wg` needs only libc.so.6 and the loader (readelf -d of bookworm's 1.0.20210914-1+b1).
 */
const LIBC_FILES = [
  "libc.so.6",
  "libm.so.6",
  "libpthread.so.0",
  "libdl.so.2",
  "librt.so.1",
  "libresolv.so.2",
  "libnss_dns.so.2",
  "libnss_files.so.2",
];

/** Path of the agent in the image. */
export const AGENT_PATH = "bin/powernode-agent";

/**
 * Path of wireguard-tools' `wg` in the image. `/usr/bin` is a link to `/bin`, so the agent's
 * `/usr/bin/wg` (Debian's path) resolves to it.
 */
export const WG_PATH = "bin/wg";

export interface RootfsInputs {
  arch: Arch;
  release: string;
  /** The compiled agent binary. */
  agent: string;
  /** Unpacked busybox-static, wireguard-tools, libc6 and libgcc-s1 packages of the target arch. */
  busyboxRoot: string;
  wireguardToolsRoot: string;
  libcRoot: string;
  libgccRoot: string;
  /** Staging root with lib/modules/<release> (stageKmods). */
  modulesRoot: string;
  /** Replacement /init (a test init); by default /init is INIT_SHIM. */
  init?: string;
}

const enc = new TextEncoder();

function file(path: string, data: Uint8Array | string, mode = 0o644): CpioEntry {
  return { kind: "file", path, mode, data: typeof data === "string" ? enc.encode(data) : data };
}

/** Adds every file, dir and symlink below src (sorted walk) under dest. */
function addTree(out: CpioEntry[], src: string, dest: string): void {
  for (const name of readdirSync(src).sort()) {
    const s = join(src, name);
    const d = `${dest}/${name}`;
    const st = lstatSync(s);
    if (st.isSymbolicLink()) out.push({ kind: "symlink", path: d, target: readlinkSync(s) });
    else if (st.isDirectory()) {
      out.push({ kind: "dir", path: d, mode: 0o755 });
      addTree(out, s, d);
    } else if (st.isFile()) out.push(file(d, readFileSync(s), st.mode & 0o111 ? 0o755 : 0o644));
  }
}

/** Adds a dir entry for every missing parent of every path. */
function withParents(entries: CpioEntry[]): CpioEntry[] {
  const have = new Set(entries.map((e) => e.path));
  const out = [...entries];
  for (const e of entries) {
    const parts = e.path.split("/");
    for (let i = 1; i < parts.length; i++) {
      const p = parts.slice(0, i).join("/");
      if (!have.has(p)) {
        have.add(p);
        out.push({ kind: "dir", path: p, mode: 0o755 });
      }
    }
  }
  return out;
}

/**
 * The default /init. Bun aborts at start-up when /proc is not mounted (a standalone executable
 * reads /proc/self/exe), and the kernel starts PID 1 with nothing mounted; so a two-line busybox
 * script mounts /proc and execs the agent, which therefore still runs as PID 1.
 */
export const INIT_SHIM = `#!/bin/sh
mount -t proc proc /proc
exec /${AGENT_PATH} "$@"
`;

/** udhcpc hook: applies the lease with busybox ip (udhcpc passes it in the environment). */
const UDHCPC_SCRIPT = `#!/bin/sh
# busybox udhcpc event script: $1 = deconfig|bound|renew|leasefail|nak
case "$1" in
  deconfig) ip -4 addr flush dev "$interface"; ip link set "$interface" up ;;
  bound|renew)
    ip -4 addr flush dev "$interface"
    ip addr add "$ip/\${mask:-24}" dev "$interface"
    [ -n "$router" ] && ip route replace default via "\${router%% *}" dev "$interface"
    : > /etc/resolv.conf
    for d in $dns; do echo "nameserver $d" >> /etc/resolv.conf; done ;;
esac
exit 0
`;

/** Every entry of the image. Deterministic for the same inputs (the cpio writer sorts). */
export function buildRootfsEntries(i: RootfsInputs): CpioEntry[] {
  const { triplet, loader } = LIBC_LAYOUT[i.arch];
  const loaderName = loader.slice(loader.lastIndexOf("/") + 1);
  const libDir = `lib/${triplet}`;
  const e: CpioEntry[] = [];
  for (const d of ["bin", "dev", "etc", "lib", "mnt", "proc", "run", "sys", "usr", "var"]) {
    e.push({ kind: "dir", path: d, mode: 0o755 });
  }
  e.push({ kind: "dir", path: "tmp", mode: 0o1777 }, { kind: "dir", path: "root", mode: 0o700 });
  for (const l of ["sbin", "usr/bin", "usr/sbin"]) {
    e.push({ kind: "symlink", path: l, target: l === "sbin" ? "bin" : "../bin" });
  }
  // The kernel opens /dev/console for PID 1 before anything mounts devtmpfs.
  e.push(
    { kind: "chardev", path: "dev/console", mode: 0o600, major: 5, minor: 1 },
    { kind: "chardev", path: "dev/null", mode: 0o666, major: 1, minor: 3 },
  );

  e.push(file(AGENT_PATH, readFileSync(i.agent), 0o755));
  if (i.init) e.push(file("init", readFileSync(i.init), 0o755));
  else e.push(file("init", INIT_SHIM, 0o755));

  e.push(file("bin/busybox", readFileSync(join(i.busyboxRoot, "bin", "busybox")), 0o755));
  for (const a of BUSYBOX_APPLETS) e.push({ kind: "symlink", path: `bin/${a}`, target: "busybox" });
  e.push(file(WG_PATH, readFileSync(join(i.wireguardToolsRoot, "usr", "bin", "wg")), 0o755));

  const libcSrc = join(i.libcRoot, "lib", triplet);
  for (const f of [loaderName, ...LIBC_FILES])
    e.push(file(`${libDir}/${f}`, readFileSync(join(libcSrc, f)), 0o755));
  e.push(
    file(`${libDir}/libgcc_s.so.1`, readFileSync(join(i.libgccRoot, "lib", triplet, "libgcc_s.so.1")), 0o644),
  );
  const loaderTarget = loader.startsWith("lib64/")
    ? `../${libDir}/${loaderName}`
    : `${triplet}/${loaderName}`;
  e.push({ kind: "symlink", path: loader, target: loaderTarget });

  e.push({ kind: "dir", path: `lib/modules/${i.release}`, mode: 0o755 });
  addTree(e, join(i.modulesRoot, "lib", "modules", i.release), `lib/modules/${i.release}`);

  e.push(
    file("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n"),
    file("etc/group", "root:x:0:\n"),
    file("etc/hosts", "127.0.0.1 localhost\n::1 localhost\n"),
    file("etc/nsswitch.conf", "hosts: files dns\n"),
    file("etc/os-release", 'NAME="powernode"\nID=powernode\nPRETTY_NAME="powernode node image"\n'),
    file("usr/share/udhcpc/default.script", UDHCPC_SCRIPT, 0o755),
  );
  return withParents(e);
}
