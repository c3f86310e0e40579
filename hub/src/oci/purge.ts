/**
 * Housekeeping of the registry's storage: abandoned upload sessions and leftover temp files
 * (a crash between write and rename). Blobs are never touched here; see docs/oci.md for GC.
 */
import { readdir, rm, stat } from "node:fs/promises";
import { join } from "node:path";

/** How old (since last write) things must be to go. */
export interface PurgeOptions {
  /** Upload sessions idle longer than this are cancelled (default 24 h). */
  uploadsOlderThanMs?: number;
  /** Temp files older than this are removed (default 1 h; live writes are far younger). */
  tmpOlderThanMs?: number;
  now?: number;
}

/** What a purge removed. */
export interface PurgeResult {
  uploads: number;
  tmp: number;
}

/** Removes idle upload sessions and stale temp files under `dataDir`. */
export async function purgeStale(dataDir: string, opts: PurgeOptions = {}): Promise<PurgeResult> {
  const now = opts.now ?? Date.now();
  const uploads = await removeOlder(
    join(dataDir, "uploads"),
    now - (opts.uploadsOlderThanMs ?? 24 * 3600_000),
    "data",
  );
  const tmp = await removeOlder(join(dataDir, "tmp"), now - (opts.tmpOlderThanMs ?? 3600_000));
  return { uploads, tmp };
}

/** Removes entries of `dir` last modified before `cutoff` (for directories: their `inner` file). */
async function removeOlder(dir: string, cutoff: number, inner?: string): Promise<number> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (e) {
    if ((e as { code?: unknown }).code === "ENOENT") return 0;
    throw new Error(`listing ${dir}`, { cause: e });
  }
  let removed = 0;
  for (const name of names) {
    const path = join(dir, name);
    const s = await stat(inner ? join(path, inner) : path).catch(() => undefined);
    // A session without its data file is broken: remove it too.
    if (!s || s.mtimeMs < cutoff) {
      await rm(path, { recursive: true, force: true });
      removed++;
    }
  }
  return removed;
}
