/**
 * The module set: makes the node run the modules the hub assigned (DesiredNodeState `modules`); the
 * `modules` controller (modules-controller.ts) drives it. Level-triggered: `reconcile(desired)` compares the assigned set with the composed root
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

import type { JsonObject } from "@bufbuild/protobuf";
import { type DesiredState, EVENTS, type ModuleAssignment } from "@powernode/proto";
import type { Log } from "../../log.ts";
import type { PhaseRecorder } from "../../runtime/phases.ts";
import type { ModuleSys } from "../../sys/module-sys.ts";
import { assignmentProblems, byPriority, moduleKey, setKeyOf } from "./assignment.ts";
import { runDebugHooks } from "./debug-hooks.ts";
import { type FetchModuleOptions, fetchModule, ModuleFetchError, type ModuleFiles } from "./fetch-module.ts";
import {
  createModuleMounts,
  errMsg,
  type Generation,
  type LiveModule,
  ModuleVerifyError,
} from "./module-mounts.ts";
import { type ModuleObservationValue, observeMounted } from "./observe.ts";
import { signatureProblem } from "./signature.ts";

export { ModuleVerifyError } from "./module-mounts.ts";
export type { ModuleObservationValue } from "./observe.ts";

export const MODULE_EVENTS = {
  verifyFailed: EVENTS.moduleVerifyFailed.kind,
  signatureInvalid: EVENTS.moduleSignatureInvalid.kind,
  mounted: EVENTS.moduleSetApplied.kind,
  rolledBack: EVENTS.moduleSetRolledBack.kind,
} as const;

export interface ModuleSetOptions {
  sys: ModuleSys;
  log: Log;
  phases: PhaseRecorder;
  /** Downloads: `/persist/powernode/modules` on a disk, else `/run/powernode/modules`. */
  modulesDir: string;
  /** Mount points of the module images and the tmpfs uppers (`/run/powernode/mnt`). */
  mountDir: string;
  /** `/sysroot`; later generations at `/sysroot.<n>`. */
  sysroot: string;
  /** A persistent instance's `/persist/var`: every generation's /var (absent: /var is the tmpfs upper's). */
  persistVar?: string;
  arch: string;
  /** `powernode.debug=1` on the cmdline: honour the desired state's `debug` section (test hooks). */
  debug: boolean;
  fetchModule?: (o: FetchModuleOptions) => Promise<ModuleFiles>;
  /** The hub registry's fetch (trusts the hub CA). */
  fetch?: typeof fetch;
  /** A fetch for other registries' locations, trusting `caPem` when a location names one. */
  registryFetch?: (caPem: string) => typeof fetch;
}

/** What a reconcile may use beyond the desired state: the hub session's pull credentials. */
export interface ReconcileOptions {
  pullCredential?: FetchModuleOptions["pullCredential"];
}

export interface ModuleSet {
  reconcile(desired: DesiredState | undefined, opts?: ReconcileOptions): Promise<void>;
  observe(): ModuleObservationValue[];
  /** The desired-state version whose module set is in effect (undefined before the first). */
  appliedVersion(): bigint | undefined;
  /** The composed root in effect. */
  root(): string | undefined;
  /** Stops services and unmounts everything (tests; a node never calls it). */
  stop(): Promise<void>;
}

type Outcome = {
  state: "pending" | "failed";
  message: string;
  assignment: ModuleAssignment;
  actualDigest?: string;
};

export function createModuleSet(o: ModuleSetOptions): ModuleSet {
  const { sys, log } = o;
  const fetchOne = o.fetchModule ?? fetchModule;
  let current: Generation | undefined;
  /** {@link setKeyOf} the assignments `current` was composed from ("" for none). */
  let currentKey = "";
  let applied: bigint | undefined;
  let generation = 0;
  /** Failures and pending states of the last attempt, by module name. */
  let outcomes = new Map<string, Outcome>();
  /** The set key of the last refused attempt: not retried until the assignment changes. */
  let refusedKey: string | undefined;
  /** The set and signatures of the last signature refusal: its event and log line are not repeated. */
  let signatureRefusedKey: string | undefined;
  /** dm devices whose removal failed (still busy after a lazy unmount): retried on each reconcile. */
  const mounts = createModuleMounts({
    sys,
    log,
    mountDir: o.mountDir,
    sysroot: o.sysroot,
    ...(o.persistVar ? { persistVar: o.persistVar } : {}),
  });
  const debugDone = new Set<string>();
  const fetchLogged = new Map<string, string>();
  let busy: Promise<void> = Promise.resolve();

  const record = (kind: string, payload: JsonObject) => o.phases.record(kind, { payload });

  const apply = async (desired: DesiredState, ro: ReconcileOptions) => {
    mounts.retryDmRemovals();
    const assignments = byPriority(desired.modules?.assignments ?? []);
    const setKey = setKeyOf(assignments);
    if (setKey === currentKey) {
      // The same bytes (and env) under another version or location: nothing to mount, but the
      // observations name what the hub now assigns (else it would see version drift), once its
      // signature holds (a refused one keeps the old name: the hub sees the node did not take it).
      const key = desired.modules?.signingKeyPem ?? "";
      for (const m of current?.modules ?? []) {
        const a = assignments.find((x) => moduleKey(x) === m.key);
        if (a && (key === "" || !signatureProblem(a, key))) m.assignment = a;
      }
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
    const keyPem = desired.modules?.signingKeyPem ?? "";
    const unsigned =
      keyPem === "" || invalid.length > 0
        ? []
        : assignments.flatMap((a) => {
            const p = signatureProblem(a, keyPem);
            return p ? [{ a, p }] : [];
          });
    if (unsigned.length > 0) {
      // Checked on every reconcile (cheap: nothing is fetched), so a re-signed set is taken up; said once.
      const sigKey = `${setKey}|${assignments.map((a) => a.signature).join(",")}`;
      for (const { a, p } of unsigned) {
        next.set(a.name, { state: "failed", message: `signature refused: ${p}`, assignment: a });
        if (sigKey !== signatureRefusedKey)
          record(MODULE_EVENTS.signatureInvalid, { module: a.name, version: a.version, reason: p });
      }
      if (sigKey !== signatureRefusedKey)
        log.error(
          `modules: desired version ${desired.version} refused: ${unsigned.map((x) => `${x.a.name}: signature refused: ${x.p}`).join("; ")}`,
        );
      signatureRefusedKey = sigKey;
      outcomes = next;
      return;
    }
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
    // A module live in the current root keeps its verified files: its registry is not asked again.
    const live = new Map(current?.modules.map((m) => [m.key, m.files]) ?? []);
    for (const a of assignments) {
      const have = live.get(moduleKey(a));
      if (have) {
        fetched.set(a.name, have);
        continue;
      }
      try {
        fetched.set(
          a.name,
          await fetchOne({
            assignment: a,
            modulesDir: o.modulesDir,
            arch: o.arch,
            fetch: o.fetch,
            registryFetch: o.registryFetch,
            pullCredential: ro.pullCredential,
          }),
        );
      } catch (err) {
        const reason = err instanceof ModuleFetchError ? err.reason : "invalid";
        const transient = reason === "transient";
        next.set(a.name, { state: transient ? "pending" : "failed", message: errMsg(err), assignment: a });
        // A refused credential may be fixed in the hub: tried again on the next tick, not refused.
        if (reason === "invalid" || reason === "missing") refusedKey = setKey;
        if (reason === "missing")
          record(EVENTS.moduleArtifactMissing.kind, {
            module: a.name,
            version: a.version,
            error: errMsg(err),
          });
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
          const m = mounts.setUp(
            a,
            fetched.get(a.name) as ModuleFiles,
            mounts.dmNameFor(a.name, n, current?.modules ?? []),
          );
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
      const g = modules.length > 0 ? mounts.composeRoot(n, modules) : undefined;
      generation = n;
      const old = current;
      if (old) await mounts.retire(old, new Set(modules.map((m) => m.key)));
      current = g;
      currentKey = setKey;
      if (g) mounts.startServices(g, new Map(assignments.map((a) => [a.name, a.env ?? {}])));
      mounts.retryDmRemovals();
    } catch (err) {
      for (const m of created) {
        mounts.tearDown(m);
      }
      mounts.retryDmRemovals();
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

  return {
    reconcile(desired, ro = {}) {
      const run = busy.then(async () => {
        if (!desired) return;
        await apply(desired, ro);
        if (o.debug) runDebugHooks(desired, { sys, log, record, current, done: debugDone });
      });
      busy = run.catch((err) => log.error(`modules: reconcile failed: ${errMsg(err)}`));
      return busy;
    },
    observe() {
      const out = current?.modules.map((m) => observeMounted(sys, m)) ?? [];
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
      if (current) await mounts.retire(current, new Set());
      current = undefined;
      currentKey = "";
      mounts.retryDmRemovals();
    },
  };
}
