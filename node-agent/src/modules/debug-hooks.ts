/**
 * Test-only hooks, honoured only with `powernode.debug=1` on the kernel cmdline: the desired state's
 * `extra.debug` may ask the agent to corrupt a downloaded layer (to prove verification catches it) or
 * to read a file in the composed root and report the result.
 *
 * extra.debug = {
 *   tamper: [{ module: "web", layer: "blob" | "metadata", offset: 4096 }],
 *   read: [{ path: "/etc/motd" }],
 * }
 */
import type { JsonObject, JsonValue } from "@bufbuild/protobuf";

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
  /** Entries ignored, each saying why. */
  problems: string[];
}

const isObject = (v: JsonValue | undefined): v is JsonObject =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** Reads `extra.debug`; malformed entries are skipped and named in `problems`. */
export function parseDebugHooks(extra: JsonObject | undefined): DebugHooks {
  const out: DebugHooks = { tamper: [], read: [], problems: [] };
  const debug = extra?.debug;
  if (debug === undefined) return out;
  if (!isObject(debug)) {
    out.problems.push("extra.debug is not an object");
    return out;
  }
  const list = (k: string) => {
    const v = debug[k];
    if (v === undefined) return [];
    if (!Array.isArray(v)) {
      out.problems.push(`extra.debug.${k} is not a list`);
      return [];
    }
    return v;
  };
  for (const [i, t] of list("tamper").entries()) {
    if (
      isObject(t) &&
      typeof t.module === "string" &&
      (t.layer === "blob" || t.layer === "metadata") &&
      typeof t.offset === "number" &&
      Number.isSafeInteger(t.offset) &&
      t.offset >= 0
    )
      out.tamper.push({ module: t.module, layer: t.layer, offset: t.offset });
    else out.problems.push(`extra.debug.tamper[${i}]: need {module, layer: blob|metadata, offset >= 0}`);
  }
  for (const [i, r] of list("read").entries()) {
    if (
      isObject(r) &&
      typeof r.path === "string" &&
      r.path.startsWith("/") &&
      !r.path.split("/").includes("..")
    )
      out.read.push({ path: r.path });
    else out.problems.push(`extra.debug.read[${i}]: need {path} absolute, without ..`);
  }
  return out;
}
