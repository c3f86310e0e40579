/**
 * The OS side of storage: the kernel NFS server driven by the nfs-server module's programs, export
 * directories (a directory on the /persist disk, or a tmpfs of its own), and NFS mounts.
 *
 * The server's programs run in the node's own root, not chrooted into the composed root: nfsd's
 * kernel threads name paths from the node's root in their upcalls to rpc.mountd, so mountd, exportfs
 * and /etc/exports must see the same tree (decision 0032). The programs and their libraries come from
 * the composed root, run by its dynamic loader with its library directory; /etc/exports, /etc/netconfig
 * and /var/lib/nfs are the node root's.
 *
 * Everything that may touch a remote server (mount, the programs) runs as a child process with a
 * timeout: a server that does not answer never blocks the agent's event loop. Nothing here stats a path
 * inside a share.
 */
import {
  chownSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
} from "node:fs";
import { dirname, join } from "node:path";
import type { Exec } from "./exec.ts";
import { writeFileAtomic } from "./files.ts";
import { type Fscrypt, fscrypt } from "./fscrypt.ts";
import type { ModuleSys } from "./module-sys.ts";
import { type MountEntry, mountedTargets, parseMounts } from "./mount.ts";

/** nobody:nogroup, what root on a client is squashed to (`root_squash`): it owns a new export's root. */
const NOBODY = 65534;

/** The dynamic loader and library directory of a Debian root, per arch (merged /usr). */
const LOADER = {
  x64: { triplet: "x86_64-linux-gnu", ld: "ld-linux-x86-64.so.2" },
  arm64: { triplet: "aarch64-linux-gnu", ld: "ld-linux-aarch64.so.1" },
} as const;

/**
 * The argv that runs `<root><program>` from the node's root with the composed root's loader and
 * libraries: `<root>/usr/lib/<triplet>/<ld> --library-path <root>/usr/lib/<triplet> <root><program> ...`.
 */
export function moduleProgramArgv(root: string, argv: readonly string[], arch: "x64" | "arm64"): string[] {
  const [program, ...args] = argv;
  if (!program?.startsWith("/"))
    throw new Error(`module program ${JSON.stringify(program)}: need an absolute path`);
  const l = LOADER[arch];
  const lib = join(root, "usr/lib", l.triplet);
  return [join(lib, l.ld), "--library-path", lib, join(root, program), ...args];
}

/** One mounted NFS filesystem, from /proc/self/mounts. */
export type NfsMounted = MountEntry;

/** The NFS filesystems (`nfs`, `nfs4`) of /proc/self/mounts. */
export function parseNfsMounts(text: string): NfsMounted[] {
  return parseMounts(text).filter((m) => m.fstype === "nfs" || m.fstype === "nfs4");
}

/** The device (`major:minor`) of what is mounted at `target`, from /proc/self/mountinfo (the last one). */
export function mountinfoDevice(text: string, target: string): string | undefined {
  let dev: string | undefined;
  for (const line of text.split("\n")) {
    const f = line.split(" ");
    if (f.length >= 5 && f[4] === target) dev = f[2];
  }
  return dev;
}

/** `DEV -> FSID` of every NFS superblock, from /proc/fs/nfsfs/volumes (`NV SERVER PORT DEV FSID FSC`). */
export function parseNfsVolumes(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length >= 5 && /^\d+:\d+$/.test(f[3] as string)) out.set(f[3] as string, f[4] as string);
  }
  return out;
}

/** busybox `mount` of a share: `-t <fstype> -o <options> <source> <target>`. */
export function nfsMountArgv(
  spec: { fstype: string; source: string; options: string },
  target: string,
): string[] {
  return ["mount", "-t", spec.fstype, "-o", spec.options, spec.source, target];
}

export interface StorageOs {
  /** True when the composed root has the NFS server's programs (the nfs-server module is mounted). */
  hasNfsServer(root: string): boolean;
  /**
   * Readies the node root for the server: /etc/netconfig (from the composed root), /var/lib/nfs (on
   * /persist when it is a disk: client state survives a reboot), /etc/exports written when it differs
   * (true when it did), the nfsd control filesystem at /proc/fs/nfsd.
   */
  prepareServer(root: string, exportsText: string): boolean;
  /** True when the composed root has nft (the server's firewall). */
  hasNft(root: string): boolean;
  /** Writes `text` to `<run dir>/<name>` (made if missing); returns its path. */
  writeRunFile(name: string, text: string): string;
  /** nfsd's running thread count (0: stopped). */
  nfsdThreads(): number;
  /** Runs a program of the composed root to its end (see {@link moduleProgramArgv}); throws with its output. */
  runProgram(root: string, argv: readonly string[], timeoutMs?: number): Promise<string>;
  /** The argv of a long-running program of the composed root, for the supervisor (root "/"). */
  programArgv(root: string, argv: readonly string[]): string[];
  /** Starts a long-running process (the supervisor's way). */
  spawnService: ModuleSys["spawnService"];
  /**
   * Makes `<root>/<path>` the export directory of storage `id`: a bind of `/persist/storage/<id>` when
   * /persist is a disk, else its own tmpfs; a new one belongs to nobody (root is squashed to it).
   * Returns what backs it.
   */
  prepareExportDir(root: string, path: string, id: string): "persist" | "tmpfs";
  /**
   * Makes `/persist/storage/<id>` an fscrypt-encrypted directory (v2 policy) with `key` added to the
   * /persist filesystem (every boot: the kernel forgets keys at unmount). A new directory gets the
   * policy; an existing one must have this key's policy, or be empty. Only on a persistent instance.
   * Returns the key identifier (hex) and whether the policy was set now.
   */
  encryptExportDir(id: string, key: Uint8Array): { identifier: string; created: boolean };
  /** Binds `source` into the NFS v4 root `nfsRoot` (a tmpfs, mounted here first) at `path`. */
  publish(source: string, nfsRoot: string, path: string): void;
  /** Unmounts `target` lazily (what uses it keeps it until done); false when nothing was mounted. */
  unmount(target: string): boolean;
  /** Whether something is mounted at `target`. */
  isMounted(target: string): boolean;
  /** Mounts an NFS share at `target` (made if missing) in a child process; throws with the reason. */
  mountNfs(
    spec: { fstype: string; source: string; options: string },
    target: string,
    timeoutMs: number,
  ): Promise<void>;
  /** Every NFS filesystem mounted on the node. */
  nfsMounts(): NfsMounted[];
  /**
   * The server's fsid (`major:minor` hex) of the NFS filesystem mounted at `target`, read from procfs
   * only (nothing asks the server); undefined when no NFS filesystem is mounted there.
   */
  nfsFsid(target: string): string | undefined;
  /** Whether process `pid` has the kernel's nfsd.export upcall channel open (rpc.mountd is serving). */
  answersUpcalls(pid: number): boolean;
}

export interface StorageOsOptions {
  sys: Pick<ModuleSys, "mount" | "bind" | "umount" | "spawnService">;
  exec: Exec;
  /** /persist is a disk (export data survives reboots); else exports live in tmpfs. */
  persistent: boolean;
  /** Default "/persist/storage". */
  persistDir?: string;
  /** Default "/run/powernode/storage". */
  runDir?: string;
  /** Default "/proc/self/mounts". */
  mountsFile?: string;
  /** Default "/proc" (mountinfo, nfsfs/volumes, a process's fds). */
  procDir?: string;
  /** Default: the agent's arch. */
  arch?: "x64" | "arm64";
  /** Default: the kernel's (sys/fscrypt.ts). */
  fscrypt?: Fscrypt;
}

export function createStorageOs(o: StorageOsOptions): StorageOs {
  const persistDir = o.persistDir ?? "/persist/storage";
  const runDir = o.runDir ?? "/run/powernode/storage";
  const mountsFile = o.mountsFile ?? "/proc/self/mounts";
  const proc = o.procDir ?? "/proc";
  const read = (f: string) => {
    try {
      return readFileSync(join(proc, f), "utf8");
    } catch {
      return "";
    }
  };
  const mounted = () => mountedTargets();
  const owned = (dir: string) => {
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    chownSync(dir, NOBODY, NOBODY);
  };
  const arch = o.arch ?? (process.arch === "arm64" ? "arm64" : "x64");
  return {
    hasNfsServer: (root) =>
      existsSync(join(root, "usr/sbin/rpc.nfsd")) && existsSync(join(root, "usr/sbin/rpc.mountd")),
    hasNft: (root) => existsSync(join(root, "usr/sbin/nft")),
    writeRunFile(name, text) {
      mkdirSync(runDir, { recursive: true });
      const f = join(runDir, name);
      writeFileAtomic(f, text, 0o600);
      return f;
    },
    prepareServer(root, exportsText) {
      mkdirSync("/etc", { recursive: true });
      if (!existsSync("/etc/netconfig")) copyFileSync(join(root, "etc/netconfig"), "/etc/netconfig");
      const state = "/var/lib/nfs";
      mkdirSync(state, { recursive: true });
      if (o.persistent && !mounted().has(state)) {
        const kept = join(persistDir, ".nfs-state");
        mkdirSync(kept, { recursive: true, mode: 0o755 });
        o.sys.bind(kept, state);
      }
      mkdirSync(join(state, "v4recovery"), { recursive: true, mode: 0o700 });
      if (!mounted().has("/proc/fs/nfsd")) o.sys.mount("nfsd", "/proc/fs/nfsd", "nfsd", false);
      let same = false;
      try {
        same = readFileSync("/etc/exports", "utf8") === exportsText;
      } catch {}
      if (!same) writeFileAtomic("/etc/exports", exportsText, 0o644);
      return !same;
    },
    nfsdThreads() {
      try {
        return Number.parseInt(readFileSync("/proc/fs/nfsd/threads", "utf8").trim(), 10) || 0;
      } catch {
        return 0;
      }
    },
    programArgv: (root, argv) => moduleProgramArgv(root, argv, arch),
    async runProgram(root, argv, timeoutMs = 30_000) {
      const [cmd, ...args] = moduleProgramArgv(root, argv, arch) as [string, ...string[]];
      const r = await o.exec.run(cmd, args, { timeoutMs, allowFailure: true });
      const out = `${r.stdout}${r.stderr}`.trim();
      if (r.exitCode !== 0) throw new Error(`${argv.join(" ")}: exit ${r.exitCode}: ${out.slice(-400)}`);
      return out;
    },
    spawnService: (s) => o.sys.spawnService(s),
    prepareExportDir(root, path, id) {
      const target = join(root, path);
      if (mounted().has(target)) return o.persistent ? "persist" : "tmpfs";
      mkdirSync(target, { recursive: true });
      if (o.persistent) {
        const dir = join(persistDir, id);
        if (!existsSync(dir)) owned(dir);
        o.sys.bind(dir, target);
        return "persist";
      }
      const dir = join(runDir, id);
      mkdirSync(dir, { recursive: true });
      if (!mounted().has(dir)) {
        o.sys.mount("tmpfs", dir, "tmpfs", false, "mode=0755");
        chownSync(dir, NOBODY, NOBODY);
      }
      o.sys.bind(dir, target);
      return "tmpfs";
    },
    encryptExportDir(id, key) {
      if (!o.persistent)
        throw new Error(
          "fscrypt needs a persistent instance (/persist on an ext4 disk made with -O encrypt)",
        );
      const fs = o.fscrypt ?? fscrypt;
      const top = dirname(persistDir);
      const identifier = fs.addKey(top, key);
      const dir = join(persistDir, id);
      mkdirSync(persistDir, { recursive: true, mode: 0o755 });
      const existed = existsSync(dir);
      if (!existed) owned(dir);
      const have = fs.policyOf(dir);
      if (have === identifier) return { identifier, created: false };
      if (have) throw new Error(`${dir} is encrypted with another key (${have.slice(0, 8)}..)`);
      if (readdirSync(dir).length > 0)
        throw new Error(`${dir} holds files and is not encrypted; move them away first`);
      fs.setPolicy(dir, identifier);
      return { identifier, created: true };
    },
    publish(source, nfsRoot, path) {
      if (!mounted().has(nfsRoot)) {
        mkdirSync(nfsRoot, { recursive: true });
        o.sys.mount("tmpfs", nfsRoot, "tmpfs", false, "mode=0755,size=1m");
      }
      const target = join(nfsRoot, path);
      if (mounted().has(target)) return;
      mkdirSync(target, { recursive: true });
      o.sys.bind(source, target);
    },
    unmount(target) {
      if (!mounted().has(target)) return false;
      o.sys.umount(target, true);
      return true;
    },
    isMounted: (target) => mounted().has(target),
    async mountNfs(spec, target, timeoutMs) {
      mkdirSync(target, { recursive: true });
      const r = await o.exec.run("/bin/busybox", nfsMountArgv(spec, target), {
        timeoutMs,
        allowFailure: true,
      });
      if (r.exitCode !== 0)
        throw new Error(
          `mount ${spec.source}: ${`${r.stderr}${r.stdout}`.trim().slice(-300) || `exit ${r.exitCode}`}`,
        );
    },
    nfsMounts() {
      try {
        return parseNfsMounts(readFileSync(mountsFile, "utf8"));
      } catch {
        return [];
      }
    },
    nfsFsid(target) {
      const dev = mountinfoDevice(read("self/mountinfo"), target);
      return dev === undefined ? undefined : parseNfsVolumes(read("fs/nfsfs/volumes")).get(dev);
    },
    answersUpcalls(pid) {
      const fds = join(proc, String(pid), "fd");
      try {
        return readdirSync(fds).some((fd) => {
          try {
            return readlinkSync(join(fds, fd)).endsWith("/nfsd.export/channel");
          } catch {
            return false;
          }
        });
      } catch {
        return false;
      }
    },
  };
}
