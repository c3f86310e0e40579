/**
 * Kernel module loading in the order the image gives: `/lib/modules/<release>/powernode.load` lists
 * uncompressed .ko paths (relative to that directory), dependencies first. Each is loaded with
 * finit_module(2); already loaded (EEXIST) counts as success. Modules built into the kernel are not
 * listed by the image builder.
 */
import { closeSync, existsSync, openSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { finitModule, LibcError, MODULE_INIT_COMPRESSED_FILE } from "./libc.ts";

/** Name of the load-order file the image builder writes beside modules.dep. */
export const LOAD_ORDER_FILE = "powernode.load";

/** Loads one module file; the real one opens it and calls finit_module. */
export type KmodLoader = (path: string) => void;

/** The real loader (lets the kernel decompress .ko.xz/.ko.zst if the image ever ships them). */
export const finitKmodLoader: KmodLoader = (path) => {
  const fd = openSync(path, "r");
  try {
    finitModule(fd, /\.ko\.(xz|zst|gz)$/.test(path) ? MODULE_INIT_COMPRESSED_FILE : 0);
  } finally {
    closeSync(fd);
  }
};

/** Parses powernode.load: one path per line, `#` comments and blank lines ignored. */
export function parseLoadOrder(text: string): string[] {
  return text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"));
}

export interface KmodOutcome {
  module: string;
  result: "loaded" | "already" | "failed";
  error?: string;
}

/** The module directory of the running kernel (release from <root>/proc/sys/kernel/osrelease). */
export function kmodDir(root = "/"): string {
  const release = readFileSync(join(root, "proc/sys/kernel/osrelease"), "utf8").trim();
  return join(root, "lib/modules", release);
}

/**
 * Loads every module of the load-order file in `dir`, in order; a failure is recorded and loading
 * goes on (a missing driver should not stop the others). Returns one outcome per module.
 */
export function loadKmods(dir: string, loader: KmodLoader): KmodOutcome[] {
  const file = join(dir, LOAD_ORDER_FILE);
  if (!existsSync(file)) return [];
  const out: KmodOutcome[] = [];
  for (const rel of parseLoadOrder(readFileSync(file, "utf8"))) {
    const module = rel.slice(rel.lastIndexOf("/") + 1).replace(/\.ko(\.\w+)?$/, "");
    try {
      loader(join(dir, rel));
      out.push({ module, result: "loaded" });
    } catch (err) {
      if (err instanceof LibcError && err.errno === 17) out.push({ module, result: "already" });
      else out.push({ module, result: "failed", error: err instanceof Error ? err.message : String(err) });
    }
  }
  return out;
}
