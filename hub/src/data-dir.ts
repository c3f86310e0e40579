/**
 * The data dir (POWERNODE_DATA) is private: the embedded database (with the sealed CA key), the
 * key-encryption key, admin.token and provider state live there. The hub makes it 0700 when missing,
 * refuses one that group or others can enter, read or write, and strips group/other bits from
 * everything under it after the database opened (PGlite writes its files 0666 whatever the umask, and
 * recycles WAL segments by renaming them, so a segment keeps the mode it had).
 */
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";

/** The umask a hub process sets at start (main.ts, scripts/start.ts): new files 0600, dirs 0700. */
export const PRIVATE_UMASK = 0o077;

/** Thrown when the data dir cannot be made private or is not. */
export class DataDirError extends Error {
  readonly kind = "data_dir";
  constructor(message: string) {
    super(message);
    this.name = "DataDirError";
  }
}

const octal = (mode: number) => (mode & 0o7777).toString(8).padStart(4, "0");

/**
 * Makes `dir` (mode 0700) when it is missing; refuses an existing one that is not a directory or whose
 * mode lets group or others in, with a message naming the path, its mode and the fix.
 */
export function assertPrivateDataDir(dir: string): void {
  const abs = resolve(dir);
  if (!existsSync(abs)) {
    try {
      mkdirSync(abs, { recursive: true, mode: 0o700 });
      chmodSync(abs, 0o700);
    } catch (e) {
      throw new DataDirError(`POWERNODE_DATA ${abs}: cannot create it: ${(e as Error).message}`);
    }
    return;
  }
  const st = statSync(abs);
  if (!st.isDirectory()) throw new DataDirError(`POWERNODE_DATA ${abs}: not a directory`);
  if ((st.mode & 0o077) !== 0) {
    throw new DataDirError(
      `POWERNODE_DATA ${abs}: mode ${octal(st.mode)} lets group or others in (it holds the database, ` +
        `the CA key's encryption key and admin.token); make it private with: chmod -R go-rwx ${abs}`,
    );
  }
}

/** What {@link privatizeTree} changed. */
export interface PrivatizeResult {
  /** Entries under the dir (the dir included) looked at. */
  seen: number;
  /** Entries whose group/other bits were removed. */
  changed: number;
}

/**
 * Removes group and other permission bits from `dir` and every file and directory under it (symbolic
 * links are not followed). Entries that vanish during the walk (a WAL segment removed) are skipped.
 */
export function privatizeTree(dir: string): PrivatizeResult {
  const out: PrivatizeResult = { seen: 0, changed: 0 };
  const visit = (path: string) => {
    let st: ReturnType<typeof lstatSync>;
    try {
      st = lstatSync(path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return;
      throw new Error(`making ${path} private: ${(e as Error).message}`, { cause: e });
    }
    if (st.isSymbolicLink()) return;
    out.seen++;
    if ((st.mode & 0o077) !== 0) {
      try {
        chmodSync(path, st.mode & 0o7700);
        out.changed++;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "ENOENT")
          throw new Error(`making ${path} private: ${(e as Error).message}`, { cause: e });
      }
    }
    if (!st.isDirectory()) return;
    let names: string[];
    try {
      names = readdirSync(path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return;
      throw new Error(`making ${path} private: ${(e as Error).message}`, { cause: e });
    }
    for (const name of names) visit(join(path, name));
  };
  visit(resolve(dir));
  return out;
}

/** Entries under `dir` (the dir included) that group or others can read, write or enter. */
export function exposedEntries(dir: string): string[] {
  const out: string[] = [];
  const visit = (path: string) => {
    const st = lstatSync(path);
    if (st.isSymbolicLink()) return;
    if ((st.mode & 0o077) !== 0) out.push(`${path} ${octal(st.mode)}`);
    if (st.isDirectory()) for (const name of readdirSync(path)) visit(join(path, name));
  };
  visit(resolve(dir));
  return out;
}
