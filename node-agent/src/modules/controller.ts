/**
 * The module controller: makes the node run the module set the hub assigned (DesiredNodeState
 * `modules`). Level-triggered: `reconcile(desired)` compares the assigned set with the composed root
 * in effect and, when they differ, builds a whole new generation beside the old one:
 *
 * 1. fetch each module (OCI manifest by digest, config checked against the assignment, 3 layers);
 * 2. per new module: open metadata.cfs once, fs-verity digest through that fd (must equal the
 *    assignment's metadata_digest, else refused: `system.module_verify_failed`), attach the same fd
 *    to a loop device and mount it (erofs, ro); blob.erofs + blob.verity on loops, dm-verity
 *    `pn-<name>` with the assignment's root hash, mount the verified device (erofs, ro);
 * 3. one overlay: `lowerdir=<meta by priority, highest first>::<blob>::<blob>`, tmpfs upper, at
 *    `/sysroot` (first generation) or `/sysroot.<n>`, with /proc, /sys, /dev bound in;
 * 4. stop the old generation's services, start the new ones in the new root, lazily unmount the old
 *    root and tear down modules no longer used.
 *
 * Any failure in 2-3 undoes what this attempt set up and keeps the previous generation (rollback); the
 * failing module is reported `failed` with the reason. Fetch problems that may pass (hub away) are
 * `pending` and retried; a refused artifact is retried only when the assignment changes.
 */

import { join } from "node:path";
import type { JsonObject } from "@bufbuild/protobuf";
import type { DesiredState, ModuleAssignment } from "@powernode/proto";
import type { Log } from "../log.ts";
import type { PhaseRecorder } from "../session/phases.ts";
import { verityHealthFromStatus, verityRootFromTable, verityTarget } from "../sys/dm.ts";
import type { LoopDevice } from "../sys/loop.ts";
import type { FileStamp, ModuleSys } from "../sys/module-sys.ts";
import { assignmentProblems, byPriority, moduleKey, overlayOptions } from "./assignment.ts";
import { type DebugHooks, parseDebugHooks } from "./debug-hooks.ts";
import { type FetchModuleOptions, fetchModule, ModuleFetchError, type ModuleFiles } from "./fetch-module.ts";
import { type Supervisor, startSupervisor } from "./supervisor.ts";

export const MODULE_EVENTS = {
  verifyFailed: "system.module_verify_failed",
  mounted: "system.module_set.applied",
  rolledBack: "system.module_set.rolled_back",
  debugRead: "system.debug.read",
  debugTamper: "system.debug.tamper",
} as const;

/** One entry of Heartbeat.modules. */
export interface ModuleObservationValue {
  name: string;
  version: string;
  metadataDigest: string;
  verityRootHash: string;
  state: "mounted" | "failed" | "pending";
  message: string;
}

export interface ModuleControllerOptions {
  sys: ModuleSys;
  log: Log;
  phases: PhaseRecorder;
  /** Downloads: `/persist/powernode/modules` on a disk, else `/run/powernode/modules`. */
  modulesDir: string;
  /** Mount points of the module images and the tmpfs uppers (`/run/powernode/mnt`). */
  mountDir: string;
  /** `/sysroot`; later generations at `/sysroot.<n>`. */
  sysroot: string;
  arch: string;
  /** `powernode.debug=1` on the cmdline: honour `extra.debug` (test hooks). */
  debug: boolean;
  fetchModule?: (o: FetchModuleOptions) => Promise<ModuleFiles>;
  fetch?: typeof fetch;
}

export interface ModuleController {
  reconcile(desired: DesiredState | undefined): Promise<void>;
  observe(): ModuleObservationValue[];
  /** The desired-state version whose module set is in effect (undefined before the first). */
  appliedVersion(): bigint | undefined;
  /** The composed root in effect. */
  root(): string | undefined;
  /** Stops services and unmounts everything (tests; a node never calls it). */
  stop(): Promise<void>;
}

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

interface LiveModule {
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

interface Generation {
  n: number;
  root: string;
  upper: string;
  modules: LiveModule[];
  binds: string[];
  supervisor?: Supervisor;
}

type Outcome = {
  state: "pending" | "failed";
  message: string;
  assignment: ModuleAssignment;
  actualDigest?: string;
};

const errMsg = (e: unknown) => (e instanceof Error ? e.message : String(e));
const sameStamp = (a: FileStamp, b: FileStamp) =>
  a.ino === b.ino && a.dev === b.dev && a.mtimeMs === b.mtimeMs && a.size === b.size;

export function createModuleController(o: ModuleControllerOptions): ModuleController {
  const { sys, log } = o;
  const fetchOne = o.fetchModule ?? fetchModule;
  let current: Generation | undefined;
  let applied: bigint | undefined;
  let generation = 0;
  /** Failures and pending states of the last attempt, by module name. */
  let outcomes = new Map<string, Outcome>();
  /** The set key of the last refused attempt: not retried until the assignment changes. */
  let refusedKey: string | undefined;
  /** dm devices whose removal failed (still busy after a lazy unmount): retried on each reconcile. */
  const pendingDmRemovals = new Set<string>();
  const debugDone = new Set<string>();
  const fetchLogged = new Map<string, string>();
  let busy: Promise<void> = Promise.resolve();

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

  const liveDmNames = () => new Set(current?.modules.map((m) => m.dmName) ?? []);
  const dmNameFor = (name: string, n: number) => {
    const taken = new Set([...liveDmNames(), ...pendingDmRemovals]);
    return taken.has(`pn-${name}`) ? `pn-${name}.${n}` : `pn-${name}`;
  };

  /** Verifies and mounts one module; throws (having undone its own steps) on any failure. */
  const setUp = (a: ModuleAssignment, files: ModuleFiles, n: number): LiveModule => {
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
      const dmName = dmNameFor(a.name, n);
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

  const retireGeneration = async (g: Generation, keep: Set<string>) => {
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

  const startServices = (g: Generation) => {
    const services = g.modules.flatMap((m) =>
      m.files.manifest.services.map((service) => ({ module: m.assignment.name, service })),
    );
    if (services.length > 0) g.supervisor = startSupervisor(g.root, services, { sys, log });
  };

  const record = (kind: string, payload: JsonObject) => o.phases.record(kind, { payload });

  const apply = async (desired: DesiredState) => {
    retryDmRemovals();
    const assignments = byPriority(desired.modules);
    const setKey = assignments.map(moduleKey).join(",");
    const currentKey = current?.modules.map((m) => m.key).join(",") ?? "";
    if (setKey === currentKey) {
      outcomes = new Map();
      refusedKey = undefined;
      applied = desired.version;
      return;
    }
    if (setKey === refusedKey) return;
    const next = new Map<string, Outcome>();
    const invalid = assignments.flatMap((a) => {
      const p = assignmentProblems(a);
      return p.length > 0 ? [{ a, p }] : [];
    });
    if (invalid.length > 0) {
      for (const { a, p } of invalid)
        next.set(a.name, { state: "failed", message: `invalid assignment: ${p.join("; ")}`, assignment: a });
      outcomes = next;
      refusedKey = setKey;
      log.error(
        `modules: desired version ${desired.version} refused: ${[...next.values()].map((x) => x.message).join("; ")}`,
      );
      return;
    }
    const names = assignments.map((a) => a.name);
    const dup = names.find((x, i) => names.indexOf(x) !== i);
    if (dup !== undefined) {
      next.set(dup, {
        state: "failed",
        message: `module ${dup} assigned twice`,
        assignment: assignments[names.indexOf(dup)] as ModuleAssignment,
      });
      outcomes = next;
      refusedKey = setKey;
      return;
    }
    // 1. fetch everything first: nothing is touched until all files are here.
    const fetched = new Map<string, ModuleFiles>();
    for (const a of assignments) {
      try {
        fetched.set(
          a.name,
          await fetchOne({ assignment: a, modulesDir: o.modulesDir, arch: o.arch, fetch: o.fetch }),
        );
      } catch (err) {
        const transient = err instanceof ModuleFetchError && err.reason === "transient";
        next.set(a.name, { state: transient ? "pending" : "failed", message: errMsg(err), assignment: a });
        if (!transient) refusedKey = setKey;
        // A registry that stays away is retried every tick: say it once per distinct message.
        const line = `module ${a.name} ${a.version}: ${errMsg(err)}${transient ? " (will retry)" : ""}`;
        if (fetchLogged.get(a.name) !== line) log.warn(line);
        fetchLogged.set(a.name, line);
      }
    }
    for (const a of assignments)
      if (!next.has(a.name)) next.set(a.name, { state: "pending", message: "fetched", assignment: a });
    for (const name of fetched.keys()) fetchLogged.delete(name);
    if (fetched.size < assignments.length) {
      for (const a of assignments)
        if (fetched.has(a.name))
          next.set(a.name, {
            state: "pending",
            message: "waiting for the other modules of the set",
            assignment: a,
          });
      outcomes = next;
      return;
    }
    // 2. set up the modules not already live; 3. compose; on failure undo this attempt only.
    // Generations count composed roots: a rolled-back attempt's number is used again.
    const n = generation + 1;
    const reuse = new Map(current?.modules.map((m) => [m.key, m]) ?? []);
    const created: LiveModule[] = [];
    const modules: LiveModule[] = [];
    try {
      for (const a of assignments) {
        const live = reuse.get(moduleKey(a));
        if (live) {
          modules.push(live);
          continue;
        }
        try {
          const m = setUp(a, fetched.get(a.name) as ModuleFiles, n);
          created.push(m);
          modules.push(m);
        } catch (err) {
          if (err instanceof ModuleVerifyError) {
            log.error(`module ${a.name} ${a.version} refused: ${err.message}`);
            record(MODULE_EVENTS.verifyFailed, {
              module: a.name,
              version: a.version,
              expected: err.expected,
              actual: err.actual,
            });
            next.set(a.name, {
              state: "failed",
              message: err.message,
              assignment: a,
              actualDigest: err.actual,
            });
          } else {
            next.set(a.name, { state: "failed", message: `mount failed: ${errMsg(err)}`, assignment: a });
          }
          throw err;
        }
      }
      const g = modules.length > 0 ? composeRoot(n, modules) : undefined;
      generation = n;
      const old = current;
      if (old) await retireGeneration(old, new Set(modules.map((m) => m.key)));
      current = g;
      if (g) startServices(g);
      retryDmRemovals();
    } catch (err) {
      for (const m of created) {
        tearDownModule(m);
      }
      retryDmRemovals();
      for (const a of assignments)
        if (next.get(a.name)?.state !== "failed")
          next.set(a.name, {
            state: "failed",
            message: `not applied (${errMsg(err)}); previous module set kept`,
            assignment: a,
          });
      outcomes = next;
      refusedKey = setKey;
      log.error(`modules: desired version ${desired.version} rolled back: ${errMsg(err)}`);
      record(MODULE_EVENTS.rolledBack, { desiredVersion: String(desired.version), reason: errMsg(err) });
      return;
    }
    outcomes = new Map();
    refusedKey = undefined;
    applied = desired.version;
    // Downloads of modules no longer mounted go (on a disk they would pile up); mounted ones stay.
    try {
      const removed = sys.pruneDownloads(
        o.modulesDir,
        new Set(current?.modules.map((m) => m.files.dir) ?? []),
      );
      if (removed.length > 0) log.info(`modules: removed unused downloads ${removed.join(", ")}`);
    } catch (err) {
      log.warn(`modules: pruning downloads: ${errMsg(err)}`);
    }
    log.info(
      `modules: desired version ${desired.version} applied (${assignments.map((a) => `${a.name} ${a.version}`).join(", ") || "no modules"})`,
    );
    record(MODULE_EVENTS.mounted, {
      desiredVersion: String(desired.version),
      root: current?.root ?? "",
      modules: assignments.map((a) => `${a.name} ${a.version}`),
    });
  };

  const runDebug = (desired: DesiredState) => {
    if (!o.debug) return;
    const hooks: DebugHooks = parseDebugHooks(desired.extra);
    for (const p of hooks.problems) log.warn(`debug hooks: ${p}`);
    const gen = String(desired.version);
    for (const [i, t] of hooks.tamper.entries()) {
      const id = `${gen}/tamper/${i}`;
      if (debugDone.has(id)) continue;
      debugDone.add(id);
      const m = current?.modules.find((x) => x.assignment.name === t.module);
      if (!m) {
        log.warn(`DEBUG TAMPER: module ${t.module} is not mounted; nothing flipped`);
        continue;
      }
      const file = t.layer === "blob" ? m.files.blob : m.files.metadata;
      try {
        const r = sys.flipByte(file, t.offset);
        log.warn(
          `DEBUG TAMPER (powernode.debug=1): flipped byte ${t.offset} of ${file} (0x${r.before.toString(16)} -> 0x${r.after.toString(16)}), page cache dropped`,
        );
        record(MODULE_EVENTS.debugTamper, { module: t.module, layer: t.layer, offset: t.offset, file });
      } catch (err) {
        log.error(`DEBUG TAMPER of ${file} failed: ${errMsg(err)}`);
      }
    }
    for (const [i, r] of hooks.read.entries()) {
      const id = `${gen}/read/${i}`;
      if (debugDone.has(id) || !current) continue;
      debugDone.add(id);
      const path = join(current.root, r.path);
      const out = sys.readFile(path);
      log.warn(`DEBUG READ ${r.path} in ${current.root}: ${out.ok ? `ok sha256 ${out.sha256}` : out.errno}`);
      const payload: JsonObject = out.ok
        ? { path: r.path, result: "ok", sha256: out.sha256, size: out.size }
        : { path: r.path, result: "error", errno: out.errno };
      record(MODULE_EVENTS.debugRead, payload);
      if (!out.ok && out.errno === "EIO")
        for (const m of current.modules) m.eio ??= `reading ${r.path} returned EIO`;
    }
  };

  const observeLive = (m: LiveModule): ModuleObservationValue => {
    const a = m.assignment;
    let digest = m.digest.value;
    let message = "";
    let state: ModuleObservationValue["state"] = "mounted";
    try {
      const stamp = sys.stampFd(m.metaFd);
      if (!sameStamp(stamp, m.digest.stamp)) {
        digest = sys.fsVerityDigestFd(m.metaFd);
        m.digest = { stamp, value: digest };
      }
    } catch (err) {
      message = `metadata digest: ${errMsg(err)}`;
    }
    if (digest !== a.metadataDigest)
      message = `metadata image changed since it was mounted: expected ${a.metadataDigest}, got ${digest}`;
    let root = "";
    try {
      const s = sys.dmStatus(m.dmName);
      root = verityRootFromTable(s.table) ?? "";
      if (verityHealthFromStatus(s.status) === "C") {
        state = "failed";
        message = `dm-verity detected corruption on ${m.dmName}`;
      }
    } catch (err) {
      state = "failed";
      message = `dm-verity ${m.dmName}: ${errMsg(err)}`;
    }
    if (m.eio && state === "mounted") {
      state = "failed";
      message = m.eio;
    }
    return { name: a.name, version: a.version, metadataDigest: digest, verityRootHash: root, state, message };
  };

  return {
    reconcile(desired) {
      const run = busy.then(async () => {
        if (!desired) return;
        await apply(desired);
        runDebug(desired);
      });
      busy = run.catch((err) => log.error(`modules: reconcile failed: ${errMsg(err)}`));
      return busy;
    },
    observe() {
      const out = current?.modules.map(observeLive) ?? [];
      const live = new Set(current?.modules.map((m) => m.key) ?? []);
      for (const x of outcomes.values()) {
        if (live.has(moduleKey(x.assignment))) continue;
        out.push({
          name: x.assignment.name,
          version: x.assignment.version,
          metadataDigest: x.actualDigest ?? "",
          verityRootHash: "",
          state: x.state,
          message: x.message,
        });
      }
      return out;
    },
    appliedVersion: () => applied,
    root: () => current?.root,
    async stop() {
      await busy;
      if (current) await retireGeneration(current, new Set());
      current = undefined;
      retryDmRemovals();
    },
  };
}
