/**
 * The mount machinery of the module controller: verify and mount one module (fs-verity through the fd
 * that is then loop-attached, loops + dm-verity + erofs), tear it down, compose a generation's root
 * (tmpfs upper, one overlay, /proc /sys /dev bound in, /var from /persist on a persistent instance)
 * and retire it. Every step that fails undoes the
 * steps before it.
 */

import { join } from "node:path";
import type { ModuleAssignment } from "@powernode/proto";
import type { Log } from "../../log.ts";
import { verityTarget } from "../../sys/dm.ts";
import type { LoopDevice } from "../../sys/loop.ts";
import type { FileStamp, ModuleSys } from "../../sys/module-sys.ts";
import { moduleKey, overlayOptions } from "./assignment.ts";
import type { ModuleFiles } from "./fetch-module.ts";
import { type Supervisor, startSupervisor } from "./supervisor.ts";

/** A refused module: fs-verity digest of its metadata image is not the assigned one. */
export class ModuleVerifyError extends Error {
  readonly kind = "module_verify";
  constructor(
    readonly module: string,
    readonly expected: string,
    readonly actual: string,
  ) {
    super(`metadata digest mismatch: expected ${expected}, got ${actual}`);
    this.name = "ModuleVerifyError";
  }
}

/** One verified, mounted module. */
export interface LiveModule {
  key: string;
  assignment: ModuleAssignment;
  files: ModuleFiles;
  metaFd: number;
  dmName: string;
  metaMount: string;
  blobMount: string;
  digest: { stamp: FileStamp; value: string };
  eio?: string;
}

/** A composed root and the modules in it. */
export interface Generation {
  n: number;
  root: string;
  upper: string;
  modules: LiveModule[];
  binds: string[];
  supervisor?: Supervisor;
}

export const errMsg = (e: unknown) => (e instanceof Error ? e.message : String(e));

export interface ModuleMounts {
  /** A dm name for `name` not used by `live` modules nor awaiting removal. */
  dmNameFor(name: string, n: number, live: readonly LiveModule[]): string;
  /** Verifies and mounts one module; throws (having undone its own steps) on any failure. */
  setUp(a: ModuleAssignment, files: ModuleFiles, dmName: string): LiveModule;
  tearDown(m: LiveModule): void;
  /** dm devices whose removal failed (still busy after a lazy unmount) are tried again. */
  retryDmRemovals(): void;
  composeRoot(n: number, modules: LiveModule[]): Generation;
  /** Stops the services, unmounts the root lazily, tears down modules not in `keep`. */
  retire(g: Generation, keep: ReadonlySet<string>): Promise<void>;
  /** Starts the root's services; `env` (by module name) goes over each module's own environment. */
  startServices(g: Generation, env?: ReadonlyMap<string, Record<string, string>>): void;
}

export function createModuleMounts(o: {
  sys: ModuleSys;
  log: Log;
  mountDir: string;
  sysroot: string;
  /** A persistent instance's /var (`/persist/var`): bound over every generation's /var. */
  persistVar?: string;
}): ModuleMounts {
  const { sys, log } = o;
  const pendingDmRemovals = new Set<string>();

  const undoStack = () => {
    const undo: { what: string; fn: () => void }[] = [];
    return {
      push: (what: string, fn: () => void) => undo.push({ what, fn }),
      run() {
        for (const u of undo.splice(0).reverse()) {
          try {
            u.fn();
          } catch (err) {
            log.warn(`modules: undo ${u.what}: ${errMsg(err)}`);
          }
        }
      },
      forget: () => undo.splice(0),
    };
  };

  const setUp = (a: ModuleAssignment, files: ModuleFiles, dmName: string): LiveModule => {
    const undo = undoStack();
    try {
      const metaFd = sys.openRead(files.metadata);
      undo.push(`close ${files.metadata}`, () => sys.close(metaFd));
      const stamp = sys.stampFd(metaFd);
      const digest = sys.fsVerityDigestFd(metaFd);
      if (digest !== a.metadataDigest) throw new ModuleVerifyError(a.name, a.metadataDigest, digest);
      const base = join(o.mountDir, moduleKey(a).replace(/[@.]/g, "-"));
      const metaMount = join(base, "meta");
      const blobMount = join(base, "blob");
      sys.mkdir(metaMount);
      sys.mkdir(blobMount);
      // The loop reads the very file the digest was computed from (same open file, no second open).
      const metaLoop = sys.attachLoop(metaFd, `${a.name}/metadata.cfs`);
      try {
        sys.mount(metaLoop.device, metaMount, "erofs", true);
      } finally {
        metaLoop.close();
      }
      undo.push(`umount ${metaMount}`, () => sys.umount(metaMount, true));
      const loops: LoopDevice[] = [];
      const blobFd = sys.openRead(files.blob);
      const hashFd = sys.openRead(files.verity);
      let dmDevice: string;
      try {
        loops.push(sys.attachLoop(blobFd, `${a.name}/blob.erofs`));
        loops.push(sys.attachLoop(hashFd, `${a.name}/blob.verity`));
        const [data, hash] = loops as [LoopDevice, LoopDevice];
        dmDevice = sys.dmCreate(
          dmName,
          verityTarget({
            dataDevice: data.device,
            hashDevice: hash.device,
            dataBlocks: files.manifest.verityDataBlocks,
            hashStartBlock: 1,
            rootHash: a.verityRootHash,
            salt: files.manifest.veritySalt,
          }),
        );
      } finally {
        // The loops stay attached while dm-verity holds them (autoclear frees them after).
        for (const l of loops) l.close();
        sys.close(blobFd);
        sys.close(hashFd);
      }
      undo.push(`remove dm ${dmName}`, () => sys.dmRemove(dmName));
      sys.mount(dmDevice, blobMount, "erofs", true);
      undo.forget();
      log.info(
        `module ${a.name} ${a.version}: metadata verified (fs-verity ${digest.slice(0, 16)}...), mounted at ${metaMount}; blob on ${dmName} (dm-verity root ${a.verityRootHash.slice(0, 16)}...) at ${blobMount}`,
      );
      return {
        key: moduleKey(a),
        assignment: a,
        files,
        metaFd,
        dmName,
        metaMount,
        blobMount,
        digest: { stamp, value: digest },
      };
    } catch (err) {
      undo.run();
      throw err;
    }
  };

  const tearDownModule = (m: LiveModule) => {
    for (const [what, fn] of [
      [`umount ${m.blobMount}`, () => sys.umount(m.blobMount, true)],
      [`umount ${m.metaMount}`, () => sys.umount(m.metaMount, true)],
      [`close ${m.files.metadata}`, () => sys.close(m.metaFd)],
    ] as const) {
      try {
        fn();
      } catch (err) {
        log.warn(`modules: ${what}: ${errMsg(err)}`);
      }
    }
    pendingDmRemovals.add(m.dmName);
    log.info(`module ${m.assignment.name} ${m.assignment.version}: unmounted`);
  };

  const retryDmRemovals = () => {
    for (const name of [...pendingDmRemovals]) {
      try {
        sys.dmRemove(name);
        pendingDmRemovals.delete(name);
      } catch (err) {
        log.info(`modules: dm ${name} still busy (${errMsg(err)}); retrying later`);
      }
    }
  };

  const composeRoot = (n: number, modules: LiveModule[]): Generation => {
    const root = n === 1 ? o.sysroot : `${o.sysroot}.${n}`;
    const upper = join(o.mountDir, `gen-${n}`);
    const undo = undoStack();
    try {
      sys.mkdir(upper);
      sys.mount("tmpfs", upper, "tmpfs", false, "mode=0755");
      undo.push(`umount ${upper}`, () => sys.umount(upper, true));
      sys.mkdir(join(upper, "upper"));
      sys.mkdir(join(upper, "work"));
      sys.mkdir(root);
      const data = overlayOptions({
        metadataDirs: modules.map((m) => m.metaMount),
        dataDirs: modules.map((m) => m.blobMount),
        upperDir: join(upper, "upper"),
        workDir: join(upper, "work"),
      });
      sys.mount("overlay", root, "overlay", false, data);
      undo.push(`umount ${root}`, () => sys.umount(root, true));
      const binds: string[] = [];
      if (o.persistVar) {
        // What services write under /var survives reboots and module swaps: the modules' /var (its
        // directories and files) seeds /persist/var where it lacks them, then /persist/var is /var.
        const t = join(root, "var");
        const seeded = sys.seedTree(t, o.persistVar);
        sys.bind(o.persistVar, t);
        binds.push(t);
        undo.push(`umount ${t}`, () => sys.umount(t, true));
        log.info(`root generation ${n}: /var is ${o.persistVar} (${seeded} entries seeded from the modules)`);
      }
      for (const d of ["proc", "sys", "dev"]) {
        const t = join(root, d);
        sys.mkdir(t);
        sys.bind(`/${d}`, t);
        binds.push(t);
        undo.push(`umount ${t}`, () => sys.umount(t, true));
      }
      undo.forget();
      log.info(`root generation ${n} composed at ${root}: overlay ${data}`);
      return { n, root, upper, modules, binds };
    } catch (err) {
      undo.run();
      throw new Error(`composing the root at ${root}: ${errMsg(err)}`, { cause: err });
    }
  };

  const retireGeneration = async (g: Generation, keep: ReadonlySet<string>) => {
    await g.supervisor?.stop();
    for (const t of [...[...g.binds].reverse(), g.root, g.upper]) {
      try {
        sys.umount(t, true);
      } catch (err) {
        log.warn(`modules: umount ${t}: ${errMsg(err)}`);
      }
    }
    if (g.root !== o.sysroot) sys.rmdir(g.root);
    for (const m of g.modules) if (!keep.has(m.key)) tearDownModule(m);
  };

  const startServices = (g: Generation, env?: ReadonlyMap<string, Record<string, string>>) => {
    const services = g.modules.flatMap((m) =>
      m.files.manifest.services.map((service) => {
        const given = env?.get(m.assignment.name) ?? {};
        return {
          module: m.assignment.name,
          service:
            Object.keys(given).length > 0 ? { ...service, env: { ...service.env, ...given } } : service,
        };
      }),
    );
    if (services.length > 0) g.supervisor = startSupervisor(g.root, services, { sys, log });
  };

  return {
    dmNameFor(name, n, live) {
      const taken = new Set([...live.map((m) => m.dmName), ...pendingDmRemovals]);
      return taken.has(`pn-${name}`) ? `pn-${name}.${n}` : `pn-${name}`;
    },
    setUp,
    tearDown: tearDownModule,
    retryDmRemovals,
    composeRoot,
    retire: retireGeneration,
    startServices,
  };
}
