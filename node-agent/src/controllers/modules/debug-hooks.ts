/**
 * Test-only hooks, honoured only with `powernode.debug=1` on the kernel cmdline: the desired state's
 * `debug` section (DebugSpec) may ask the agent to corrupt a downloaded layer (to prove verification
 * catches it), to read a file in the composed root and report the result, or to measure a file under
 * /persist with the kernel's fs-verity. Each hook runs once per desired-state version.
 */

import { join } from "node:path";
import type { JsonObject } from "@bufbuild/protobuf";
import { DebugLayer, type DebugSpec, type DesiredState, EVENTS } from "@powernode/proto";
import type { Log } from "../../log.ts";
import type { ModuleSys } from "../../sys/module-sys.ts";
import { errMsg, type Generation } from "./module-mounts.ts";

export interface TamperHook {
  module: string;
  layer: "blob" | "metadata";
  offset: number;
}

export interface ReadHook {
  path: string;
}

export interface DebugHooks {
  tamper: TamperHook[];
  read: ReadHook[];
  /** Files under /persist to enable fs-verity on and measure with the kernel. */
  fsverity: ReadHook[];
  /** Entries ignored, each saying why. */
  problems: string[];
}

const safePath = (p: string, under = "/") => p.startsWith(under) && !p.split("/").includes("..");

/** Checks a DebugSpec; malformed entries are skipped and named in `problems`. */
export function parseDebugHooks(spec: DebugSpec | undefined): DebugHooks {
  const out: DebugHooks = { tamper: [], read: [], fsverity: [], problems: [] };
  if (!spec) return out;
  for (const [i, t] of spec.tamper.entries()) {
    const layer =
      t.layer === DebugLayer.BLOB ? "blob" : t.layer === DebugLayer.METADATA ? "metadata" : undefined;
    if (t.module !== "" && layer && t.offset <= BigInt(Number.MAX_SAFE_INTEGER))
      out.tamper.push({ module: t.module, layer, offset: Number(t.offset) });
    else out.problems.push(`debug.tamper[${i}]: need {module, layer: blob|metadata, offset}`);
  }
  for (const [i, r] of spec.read.entries()) {
    if (safePath(r.path)) out.read.push({ path: r.path });
    else out.problems.push(`debug.read[${i}]: need {path} absolute, without ..`);
  }
  for (const [i, r] of spec.fsverity.entries()) {
    if (safePath(r.path, "/persist/")) out.fsverity.push({ path: r.path });
    else out.problems.push(`debug.fsverity[${i}]: need {path} under /persist/, without ..`);
  }
  return out;
}

export interface DebugContext {
  sys: ModuleSys;
  log: Log;
  record(kind: string, payload: JsonObject): void;
  /** The mounted generation, if any. */
  current: Generation | undefined;
  /** Hooks already run (`<version>/<kind>/<index>`): each runs once per desired-state version. */
  done: Set<string>;
}

export const DEBUG_EVENTS = {
  read: EVENTS.debugRead.kind,
  tamper: EVENTS.debugTamper.kind,
  fsverity: EVENTS.debugFsverity.kind,
} as const;

/** Runs the hooks of `desired.debug` not yet run for its version. */
export function runDebugHooks(desired: DesiredState, c: DebugContext): void {
  const { sys, log, current, done: debugDone } = c;
  const record = c.record;
  const hooks: DebugHooks = parseDebugHooks(desired.debug);
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
      record(DEBUG_EVENTS.tamper, { module: t.module, layer: t.layer, offset: t.offset, file });
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
    record(DEBUG_EVENTS.read, payload);
    if (!out.ok && out.errno === "EIO")
      for (const m of current.modules) m.eio ??= `reading ${r.path} returned EIO`;
  }
  for (const [i, f] of hooks.fsverity.entries()) {
    const id = `${gen}/fsverity/${i}`;
    if (debugDone.has(id)) continue;
    debugDone.add(id);
    const r = sys.measureVerity(f.path);
    log.warn(
      `DEBUG FSVERITY ${f.path}: ${r.ok ? `sha256 ${r.digest}${r.enabled ? " (enabled now)" : ""}` : `${r.step}: ${r.errno}`}`,
    );
    record(
      DEBUG_EVENTS.fsverity,
      r.ok
        ? { path: f.path, result: "ok", algorithm: "sha256", digest: r.digest, enabledNow: r.enabled }
        : { path: f.path, result: "error", step: r.step, errno: r.errno },
    );
  }
}
