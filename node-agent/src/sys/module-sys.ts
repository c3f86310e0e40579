/**
 * The OS operations behind the module controller: open/hash files, loop devices, dm-verity, mounts,
 * the test-only tamper hook, and service processes. `createModuleSys()` is the real one; the controller
 * takes the {@link ModuleSys} interface so tests use a recording fake.
 */

import {
  chmodSync,
  closeSync,
  copyFileSync,
  fstatSync,
  lchownSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readlinkSync,
  readSync,
  rmdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import { createFsVerityHasher, toHex } from "@powernode/composefs";
import { createDm, type Dm, type DmTarget } from "./dm.ts";
import type { ChildTracker } from "./exec.ts";
import { enableAndMeasureVerity, type VerityMeasure } from "./fs-verity.ts";
import { errnoName, MNT_DETACH, MS_BIND, MS_RDONLY, MS_REC, mount, umount2 } from "./libc.ts";
import { attachLoop, type LoopDevice } from "./loop.ts";

export interface FileStamp {
  ino: number;
  dev: number;
  mtimeMs: number;
  size: number;
}

/** A running service process. */
export interface ServiceProcess {
  pid: number;
  /** Resolves with the exit code (or 128 + signal). */
  exited: Promise<number>;
  kill(signal?: NodeJS.Signals): void;
}

export interface SpawnServiceOptions {
  /** The composed root the service runs in (chroot). */
  root: string;
  argv: string[];
  env: Record<string, string>;
  /** Each output line (stdout and stderr). */
  onLine(line: string): void;
}

export type ReadOutcome = { ok: true; sha256: string; size: number } | { ok: false; errno: string };

export interface ModuleSys {
  /** Opens a file read-only; the fd is what gets hashed and then attached, so the bytes are the same. */
  openRead(path: string): number;
  close(fd: number): void;
  /** fs-verity sha256 (hex) of the whole file open as `fd`, read from offset 0. */
  fsVerityDigestFd(fd: number): string;
  stampFd(fd: number): FileStamp;
  attachLoop(fd: number, name: string): LoopDevice;
  dmCreate(name: string, target: DmTarget): string;
  dmStatus(name: string): { table: string; status: string };
  dmRemove(name: string): void;
  mkdir(path: string): void;
  rmdir(path: string): void;
  /** Read-only when `readOnly`; `data` is the option string. */
  mount(source: string, target: string, fstype: string, readOnly: boolean, data?: string): void;
  /** A recursive bind mount (MS_BIND | MS_REC). */
  bind(source: string, target: string): void;
  /** Lazy (MNT_DETACH) when asked. */
  umount(target: string, lazy: boolean): void;
  /**
   * Copies into `to` what `from` has and `to` lacks (directories, files, symlinks, with their modes and
   * owners); what `to` already has is kept as it is. Returns how many entries were copied.
   */
  seedTree(from: string, to: string): number;
  /**
   * Removes download dirs `<modulesDir>/<name>/<manifest hex>` whose path is not in `keep` (and name dirs
   * left empty); returns the dirs removed.
   */
  pruneDownloads(modulesDir: string, keep: ReadonlySet<string>): string[];
  /** Test hook: flips one byte of a file in place, then drops the page cache. */
  flipByte(path: string, offset: number): { before: number; after: number };
  /** Reads a whole file: its sha256, or the errno name (EIO from dm-verity). */
  readFile(path: string): ReadOutcome;
  /** Test hook: the kernel's fs-verity digest of a file, enabling fs-verity on it first if needed. */
  measureVerity(path: string): VerityMeasure;
  spawnService(opts: SpawnServiceOptions): ServiceProcess;
}

function errnoOf(err: unknown): string {
  const code = (err as { code?: unknown })?.code;
  if (typeof code === "string") return code;
  const errno = (err as { errno?: unknown })?.errno;
  return typeof errno === "number" ? errnoName(Math.abs(errno)) : String(err);
}

async function pipeLines(stream: ReadableStream<Uint8Array> | null, onLine: (l: string) => void) {
  if (!stream) return;
  const dec = new TextDecoder();
  let rest = "";
  for await (const chunk of stream) {
    rest += dec.decode(chunk, { stream: true });
    let nl = rest.indexOf("\n");
    while (nl >= 0) {
      onLine(rest.slice(0, nl));
      rest = rest.slice(nl + 1);
      nl = rest.indexOf("\n");
    }
  }
  if (rest !== "") onLine(rest);
}

/** The real operations (root only). `children` is the reaper's owned-pid set. */
export function createModuleSys(
  opts: { devDir?: string; procDir?: string; children?: ChildTracker } = {},
): ModuleSys {
  const devDir = opts.devDir ?? "/dev";
  const procDir = opts.procDir ?? "/proc";
  let dm: Dm | undefined;
  const dmOnce = () => {
    dm ??= createDm(devDir);
    return dm;
  };
  return {
    openRead: (path) => openSync(path, "r"),
    close: (fd) => closeSync(fd),
    fsVerityDigestFd(fd) {
      const h = createFsVerityHasher();
      const buf = new Uint8Array(4 << 20);
      let pos = 0;
      for (;;) {
        const n = readSync(fd, buf, 0, buf.length, pos);
        if (n <= 0) break;
        h.update(buf.subarray(0, n));
        pos += n;
      }
      return toHex(h.digest());
    },
    stampFd(fd) {
      const s = fstatSync(fd);
      return { ino: s.ino, dev: s.dev, mtimeMs: s.mtimeMs, size: s.size };
    },
    attachLoop: (fd, name) => attachLoop(fd, name, devDir),
    dmCreate: (name, target) => dmOnce().create(name, target),
    dmStatus: (name) => dmOnce().status(name),
    dmRemove: (name) => dmOnce().remove(name),
    mkdir: (path) => mkdirSync(path, { recursive: true }),
    rmdir(path) {
      try {
        rmdirSync(path);
      } catch {
        // Still busy (lazily unmounted) or gone: harmless.
      }
    },
    mount: (source, target, fstype, readOnly, data) =>
      mount(source, target, fstype, readOnly ? MS_RDONLY : 0, data),
    bind: (source, target) => mount(source, target, "none", MS_BIND | MS_REC),
    umount: (target, lazy) => umount2(target, lazy ? MNT_DETACH : 0),
    seedTree,
    pruneDownloads(modulesDir, keep) {
      const removed: string[] = [];
      const list = (d: string) => {
        try {
          return readdirSync(d, { withFileTypes: true }).filter((e) => e.isDirectory());
        } catch {
          return [];
        }
      };
      for (const name of list(modulesDir)) {
        const nameDir = join(modulesDir, name.name);
        const versions = list(nameDir);
        for (const v of versions) {
          const d = join(nameDir, v.name);
          if (keep.has(d)) continue;
          rmSync(d, { recursive: true, force: true });
          removed.push(d);
        }
        if (readdirSync(nameDir).length === 0) rmSync(nameDir, { recursive: true, force: true });
      }
      return removed;
    },
    flipByte(path, offset) {
      const fd = openSync(path, "r+");
      try {
        const b = new Uint8Array(1);
        if (readSync(fd, b, 0, 1, offset) !== 1) throw new Error(`${path}: offset ${offset} is past the end`);
        const before = b[0] ?? 0;
        b[0] = before ^ 0xff;
        writeSync(fd, b, 0, 1, offset);
        return { before, after: b[0] ?? 0 };
      } finally {
        closeSync(fd);
        writeFileSync(`${procDir}/sys/vm/drop_caches`, "3\n");
      }
    },
    measureVerity: enableAndMeasureVerity,
    readFile(path) {
      let fd: number;
      try {
        fd = openSync(path, "r");
      } catch (err) {
        return { ok: false, errno: errnoOf(err) };
      }
      try {
        const h = new Bun.CryptoHasher("sha256");
        const buf = new Uint8Array(1 << 20);
        let size = 0;
        for (;;) {
          const n = readSync(fd, buf, 0, buf.length, null);
          if (n <= 0) break;
          h.update(buf.subarray(0, n));
          size += n;
        }
        return { ok: true, sha256: h.digest("hex"), size };
      } catch (err) {
        return { ok: false, errno: errnoOf(err) };
      } finally {
        closeSync(fd);
      }
    },
    spawnService(o) {
      // busybox-static carries the setsid and chroot applets even without their symlinks in the image.
      // setsid (no fork: the child is not a group leader) makes the service its own process group, so
      // stopping it also stops what it started.
      const p = Bun.spawn(["/bin/busybox", "setsid", "/bin/busybox", "chroot", o.root, ...o.argv], {
        env: o.env,
        stdin: "ignore",
        stdout: "pipe",
        stderr: "pipe",
      });
      opts.children?.add(p.pid);
      void pipeLines(p.stdout, o.onLine);
      void pipeLines(p.stderr, o.onLine);
      const exited = p.exited.then((code) => {
        opts.children?.delete(p.pid);
        return p.signalCode ? 128 + (signalNumber(String(p.signalCode)) ?? 0) : code;
      });
      const kill = (sig: NodeJS.Signals = "SIGTERM") => {
        try {
          process.kill(-p.pid, sig);
        } catch {
          // No such group (not yet set up, or gone): signal the process itself.
          p.kill(sig);
        }
      };
      return { pid: p.pid, exited, kill };
    },
  };
}

function signalNumber(name: string): number | undefined {
  return (
    { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15, SIGSEGV: 11, SIGABRT: 6 } as Record<string, number>
  )[name];
}

/** See {@link ModuleSys.seedTree}. */
export function seedTree(from: string, to: string): number {
  let copied = 0;
  const walk = (src: string, dst: string) => {
    for (const name of readdirSync(src)) {
      const a = join(src, name);
      const b = join(dst, name);
      const st = lstatSync(a);
      const have = lstatSync(b, { throwIfNoEntry: false });
      if (st.isDirectory()) {
        if (!have) {
          mkdirSync(b, { mode: st.mode & 0o7777 });
          chmodSync(b, st.mode & 0o7777);
          lchownSync(b, st.uid, st.gid);
          copied++;
        }
        if (!have || have.isDirectory()) walk(a, b);
      } else if (!have) {
        if (st.isSymbolicLink()) symlinkSync(readlinkSync(a), b);
        else if (st.isFile()) {
          copyFileSync(a, b);
          chmodSync(b, st.mode & 0o7777);
        } else continue; // sockets, fifos, devices: made by whoever needs them
        lchownSync(b, st.uid, st.gid);
        copied++;
      }
    }
  };
  mkdirSync(to, { recursive: true, mode: 0o755 });
  walk(from, to);
  return copied;
}
