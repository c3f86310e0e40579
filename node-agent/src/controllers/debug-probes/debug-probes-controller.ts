/**
 * `debug-probes` (test-only, only when the node booted with `powernode.debug=1`): runs the desired
 * state's `debug.ping`, `debug.write`, `debug.hash` and `debug.mount` hooks once each time the debug
 * section changes (not again for an unrelated change of the desired state: a write is not idempotent)
 * and records each result as an event, with the desired-state version that brought the section: `system.debug.ping` {target, interface, transmitted,
 * received}, `system.debug.file` {op, path, result, sha256, bytes, ms | error}, `system.debug.mount`
 * {source, path, result, fsid | error} (the fsid the kernel reported for the mount). The smokes use them to prove traffic between nodes and what a node
 * reads and writes on a share, from the nodes themselves. File paths are in the composed root.
 * `debug.nas` is handed to the storage controller (DebugNasExports): exports to any address, a
 * stand-in for a NAS outside the mesh.
 */
import { join } from "node:path";
import type { JsonObject } from "@bufbuild/protobuf";
import { toJson } from "@bufbuild/protobuf";
import { DebugSpecSchema, type DesiredState, EVENTS } from "@powernode/proto";
import { type Controller, type ControllerContext, defineReconciler } from "../../runtime/controller.ts";
import type { DebugProbesOs } from "../../sys/debug-probes.ts";
import type { AgentDeps } from "../deps.ts";
import { errMsg } from "../modules/module-mounts.ts";
import { DebugNasExports, DebugProbeStatus, DesiredNodeState, ModuleSetStatus } from "../resources.ts";
import { nfsMountSpec } from "../storage/nfs-config.ts";

export type { DebugProbesOs } from "../../sys/debug-probes.ts";

const ADDRESS_RE = /^(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9a-fA-F:]{2,39})$/;
const IFACE_RE = /^[A-Za-z0-9_.-]{1,15}$/;
const PATH_RE = /^\/[A-Za-z0-9._/-]{1,254}$/;
/** A file probe on a share whose server reboots waits for it (hard mount): long, but bounded. */
const FILE_TIMEOUT_MS = 180_000;

const safePath = (p: string) => PATH_RE.test(p) && !p.split("/").includes("..");

export function debugProbesController(deps: AgentDeps & { debugProbes: DebugProbesOs }): Controller {
  const os = deps.debugProbes;
  /** The debug section the probes last ran for: they run again only when it changes (writes are not idempotent). */
  let doneSpec: string | undefined;
  const record = (kind: string, payload: JsonObject) => deps.phases.record(kind, { payload });

  const pings = async (ctx: ControllerContext, state: DesiredState) => {
    let run = 0;
    for (const [i, p] of (state.debug?.ping ?? []).entries()) {
      if (!ADDRESS_RE.test(p.target) || (p.interface !== "" && !IFACE_RE.test(p.interface))) {
        ctx.log.warn(`debug.ping[${i}]: need {target: an IP address, interface: a name or empty}`);
        continue;
      }
      const count = Math.min(Math.max(p.count || 3, 1), 20);
      const r = await os
        .ping(p.target, { ...(p.interface ? { iface: p.interface } : {}), count })
        .catch((err) => {
          ctx.log.warn(`debug.ping[${i}] ${p.target}: ${errMsg(err)}`);
          return { transmitted: count, received: 0 };
        });
      ctx.log.info(
        `DEBUG PING (powernode.debug=1): ${p.target} via ${p.interface || "any"}: ${r.received}/${r.transmitted}`,
      );
      record(EVENTS.debugPing.kind, {
        target: p.target,
        interface: p.interface,
        version: String(state.version),
        ...r,
      });
      run++;
    }
    return run;
  };

  /** write, hash and mount: in the composed root, each in a child process. */
  const files = async (ctx: ControllerContext, state: DesiredState, root: string | undefined) => {
    const version = String(state.version);
    const d = state.debug;
    const jobs: { op: "write" | "hash"; path: string; mib: number }[] = [
      ...(d?.write ?? []).map((w) => ({ op: "write" as const, path: w.path, mib: w.mib })),
      ...(d?.hash ?? []).map((h) => ({ op: "hash" as const, path: h.path, mib: 0 })),
    ];
    for (const j of jobs) {
      const base = { op: j.op, path: j.path, version };
      if (!root || !safePath(j.path) || (j.op === "write" && (j.mib < 1 || j.mib > 256))) {
        const error = root ? "need {path} absolute without .., mib 1..256" : "no composed root";
        ctx.log.warn(`debug.${j.op} ${j.path}: ${error}`);
        record(EVENTS.debugFile.kind, { ...base, result: "error", error });
        continue;
      }
      const started = performance.now();
      const file = join(root, j.path);
      try {
        const r =
          j.op === "write"
            ? await os.writeRandom(file, j.mib, FILE_TIMEOUT_MS)
            : await os.hash(file, FILE_TIMEOUT_MS);
        const ms = Math.round(performance.now() - started);
        ctx.log.info(
          `DEBUG ${j.op.toUpperCase()} ${j.path}: ${r.bytes} bytes sha256 ${r.sha256} in ${ms} ms`,
        );
        record(EVENTS.debugFile.kind, { ...base, result: "ok", sha256: r.sha256, bytes: r.bytes, ms });
      } catch (err) {
        ctx.log.warn(`DEBUG ${j.op.toUpperCase()} ${j.path}: ${errMsg(err)}`);
        record(EVENTS.debugFile.kind, { ...base, result: "error", error: errMsg(err) });
      }
    }
    for (const m of d?.mount ?? []) {
      const base = { source: m.source, path: m.path, version };
      try {
        if (!root || !safePath(m.path))
          throw new Error(root ? "path: absolute without .." : "no composed root");
        const r = await os.tryMount(
          nfsMountSpec("debug.mount", { source: m.source, options: "" }),
          join(root, m.path),
          30_000,
        );
        ctx.log.info(`DEBUG MOUNT ${m.source} at ${m.path}: mounted (fsid ${r.fsid ?? "?"}), unmounted`);
        record(EVENTS.debugMount.kind, { ...base, result: "ok", ...(r.fsid ? { fsid: r.fsid } : {}) });
      } catch (err) {
        ctx.log.warn(`DEBUG MOUNT ${m.source} at ${m.path}: ${errMsg(err)}`);
        record(EVENTS.debugMount.kind, { ...base, result: "error", error: errMsg(err) });
      }
    }
  };

  return defineReconciler({
    name: "debug-probes",
    // The composed root comes from the modules controller, when the node has a module set.
    inputs: [DesiredNodeState, ...(deps.modules ? [ModuleSetStatus] : [])],
    outputs: [DebugProbeStatus, DebugNasExports],
    async reconcile(ctx) {
      const state = ctx.get(DesiredNodeState, "node")?.spec;
      if (!state) return undefined;
      const spec = state.debug ? JSON.stringify(toJson(DebugSpecSchema, state.debug)) : "";
      const nas = state.debug?.nas ?? [];
      if (nas.length > 0) ctx.set(DebugNasExports, "node", { exports: nas });
      else ctx.remove(DebugNasExports, "node");
      const root = deps.modules ? ctx.get(ModuleSetStatus, "node")?.spec.root : undefined;
      const d = state.debug;
      // File probes need the composed root of this version's modules: wait for it.
      const wantsRoot = (d?.write.length ?? 0) + (d?.hash.length ?? 0) + (d?.mount.length ?? 0) > 0;
      if (wantsRoot && !root) return undefined;
      if (spec === doneSpec) return undefined;
      doneSpec = spec;
      const run = await pings(ctx, state);
      await files(ctx, state, root);
      ctx.set(DebugProbeStatus, "node", { version: state.version, pings: run });
      return undefined;
    },
  });
}
