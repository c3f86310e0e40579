/**
 * A recording fake of {@link ModuleSys}: the test machine has no device-mapper and tests must not
 * mount, so every operation is recorded as one line and answered from a script. File digests come from
 * `digests` (by path) or the real file's fs-verity digest is never computed.
 */
import type { DmTarget } from "../src/sys/dm.ts";
import type {
  FileStamp,
  ModuleSys,
  ReadOutcome,
  ServiceProcess,
  SpawnServiceOptions,
} from "../src/sys/module-sys.ts";

export interface RecordingModuleSysFake extends ModuleSys {
  /** One line per operation, in order. */
  readonly calls: string[];
  /** Mount targets currently mounted (by the fake's account). */
  readonly mounted: Set<string>;
  readonly dmDevices: Map<string, DmTarget>;
  readonly services: {
    argv: string[];
    root: string;
    env: Record<string, string>;
    proc: ServiceProcess & { exit(code: number): void };
  }[];
  /** Set per-path fs-verity digests (hex). */
  digests: Map<string, string>;
  /** dm status answers ("V" by default). */
  dmHealth: Map<string, string>;
  /** Change the stamp of a path (as a write would). */
  touch(path: string): void;
  /** Fail mounts whose target matches. */
  failMountOn?: RegExp;
  readAnswers: Map<string, ReadOutcome>;
}

export function createRecordingModuleSysFake(): RecordingModuleSysFake {
  const calls: string[] = [];
  const fds = new Map<number, string>();
  const stamps = new Map<string, number>();
  let nextFd = 100;
  let nextLoop = 0;
  let nextDm = 0;
  let nextPid = 1000;
  const fake: RecordingModuleSysFake = {
    calls,
    mounted: new Set(),
    dmDevices: new Map(),
    services: [],
    digests: new Map(),
    dmHealth: new Map(),
    readAnswers: new Map(),
    touch(path) {
      stamps.set(path, (stamps.get(path) ?? 0) + 1);
    },
    openRead(path) {
      const fd = nextFd++;
      fds.set(fd, path);
      calls.push(`open ${path}`);
      return fd;
    },
    close(fd) {
      fds.delete(fd);
    },
    fsVerityDigestFd(fd) {
      const path = fds.get(fd) ?? "?";
      calls.push(`fs-verity ${path}`);
      return fake.digests.get(path) ?? "0".repeat(64);
    },
    stampFd(fd): FileStamp {
      const path = fds.get(fd) ?? "?";
      return { ino: 1, dev: 1, mtimeMs: stamps.get(path) ?? 0, size: 1 };
    },
    attachLoop(fd, name) {
      const device = `/dev/loop${nextLoop++}`;
      calls.push(`loop ${device} <- ${fds.get(fd)} (${name})`);
      return { device, close() {} };
    },
    dmCreate(name, target) {
      if (fake.dmDevices.has(name)) throw new Error(`dm ${name}: EBUSY`);
      fake.dmDevices.set(name, target);
      const dev = `/dev/dm-${nextDm++}`;
      calls.push(`dm-create ${name} ${target.type} ${target.params} -> ${dev}`);
      return dev;
    },
    dmStatus(name) {
      const t = fake.dmDevices.get(name);
      if (!t) throw new Error(`dm ${name}: ENXIO`);
      return { table: t.params.replace(/\/dev\/loop\d+/g, "7:0"), status: fake.dmHealth.get(name) ?? "V" };
    },
    dmRemove(name) {
      calls.push(`dm-remove ${name}`);
      fake.dmDevices.delete(name);
    },
    mkdir() {},
    rmdir() {},
    mount(source, target, fstype, readOnly, data) {
      calls.push(`mount ${fstype} ${source} ${target}${readOnly ? " ro" : ""}${data ? ` ${data}` : ""}`);
      if (fake.failMountOn?.test(target)) throw new Error(`mount ${fstype} on ${target}: EINVAL (errno 22)`);
      fake.mounted.add(target);
    },
    bind(source, target) {
      calls.push(`bind ${source} ${target}`);
      fake.mounted.add(target);
    },
    umount(target, lazy) {
      calls.push(`umount${lazy ? " -l" : ""} ${target}`);
      fake.mounted.delete(target);
    },
    seedTree(from, to) {
      calls.push(`seed ${from} ${to}`);
      return 0;
    },
    pruneDownloads(modulesDir, keep) {
      calls.push(`prune ${modulesDir} keep ${[...keep].join(" ")}`);
      return [];
    },
    flipByte(path, offset) {
      calls.push(`flip ${path} @${offset}`);
      fake.touch(path);
      return { before: 0, after: 255 };
    },
    measureVerity(path) {
      calls.push(`measure-verity ${path}`);
      return { ok: true, digest: "e".repeat(64), enabled: true };
    },
    readFile(path) {
      calls.push(`read ${path}`);
      return fake.readAnswers.get(path) ?? { ok: true, sha256: "f".repeat(64), size: 1 };
    },
    spawnService(o: SpawnServiceOptions) {
      let exit: (code: number) => void = () => {};
      const exited = new Promise<number>((r) => {
        exit = r;
      });
      const pid = nextPid++;
      calls.push(`spawn ${o.root} ${o.argv.join(" ")}`);
      const proc = { pid, exited, kill: () => exit(143), exit: (c: number) => exit(c) };
      fake.services.push({ argv: o.argv, root: o.root, env: o.env, proc });
      return proc;
    },
  };
  return fake;
}
