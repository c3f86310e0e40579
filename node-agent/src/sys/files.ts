/** Durable file writes for agent state: temp file + fsync + rename, so a crash leaves old or new, never half. */
import { closeSync, fsyncSync, linkSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import { dirname, join } from "node:path";

/** Writes `data` to `path` atomically with `mode` (0600 for keys), creating the directory (0700). */
export function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o644): void {
  const tmp = writeTemp(path, data, mode);
  renameSync(tmp, path);
  fsyncDir(dirname(path));
}

/**
 * Creates `path` with `data` and `mode` unless it already exists, atomically: a complete temp file is
 * hard-linked into place (link(2) never replaces), so concurrent creators agree on one file and a
 * crash leaves none or a whole one. Returns false, writing nothing, when `path` existed.
 */
export function createFileExclusive(path: string, data: string | Uint8Array, mode = 0o600): boolean {
  const tmp = writeTemp(path, data, mode);
  try {
    linkSync(tmp, path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw new Error(`creating ${path}`, { cause: err });
  } finally {
    rmSync(tmp, { force: true });
  }
  fsyncDir(dirname(path));
  return true;
}

/** A fsynced temp file beside `path` (its directory created 0700). */
function writeTemp(path: string, data: string | Uint8Array, mode: number): string {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = join(
    dir,
    `.${path.slice(dir.length + 1)}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`,
  );
  const fd = openSync(tmp, "wx", mode);
  try {
    writeSync(fd, typeof data === "string" ? Buffer.from(data, "utf8") : data);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw new Error(`writing ${path}`, { cause: err });
  }
  closeSync(fd);
  return tmp;
}

/** fsync a directory so a rename or link in it survives a power loss. */
function fsyncDir(dir: string): void {
  const dfd = openSync(dir, "r");
  try {
    fsyncSync(dfd);
  } finally {
    closeSync(dfd);
  }
}
