/**
 * Content-addressed object store laid out as composefs expects: `<store>/ab/cdef…` where `abcdef…` is the
 * hex fs-verity sha256 digest of the object (mkcomposefs `--digest-store` layout).
 */
import {
  chmodSync,
  closeSync,
  copyFileSync,
  mkdirSync,
  openSync,
  renameSync,
  rmSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import { digestToPath } from "./tree.ts";

/** Writes objects into a store directory; idempotent per digest. */
export interface ObjectStore {
  readonly dir: string;
  /** Copies the file at `srcPath` (already digested) into the store. */
  addFile(digest: Uint8Array, srcPath: string | Buffer): void;
  /** Writes `data` (already digested) into the store. */
  addBytes(digest: Uint8Array, data: Uint8Array): void;
  /** Starts an object whose digest is known only after its bytes: write, then commit with the digest. */
  beginObject(): ObjectWriter;
  /** Number of distinct objects written through this handle. */
  readonly count: number;
}

/** An object being streamed into the store. */
export interface ObjectWriter {
  write(data: Uint8Array): void;
  /** Moves the bytes under their digest (or drops them if that object already exists). */
  commit(digest: Uint8Array): void;
  /** Discards the partial object. */
  abort(): void;
}

/** Opens (creating if needed) an object store rooted at `dir`. Objects are mode 0644, directories 0755. */
export function createObjectStore(dir: string): ObjectStore {
  mkdirSync(dir, { recursive: true });
  const made = new Set<string>();
  const seen = new Set<string>();
  let count = 0;
  let tmpSeq = 0;
  // Only chmod when the umask would strip bits from 0644 (saves a syscall per object in the common case).
  const umask = process.umask();
  const needChmod = (0o644 & ~umask) !== 0o644;
  const place = (digest: Uint8Array, write: (tmp: string) => void): void => {
    const rel = digestToPath(digest);
    const sub = rel.slice(0, 2);
    if (!made.has(sub)) {
      mkdirSync(join(dir, sub), { recursive: true, mode: 0o755 });
      if (needChmod) chmodSync(join(dir, sub), 0o755);
      made.add(sub);
    }
    if (seen.has(rel)) return;
    seen.add(rel);
    const dst = join(dir, rel);
    // An object already in the store has the same bytes (same digest): replacing it is harmless and saves a
    // stat per object, which dominates when a tree has many small files.
    // Write beside the destination and rename, so a crash never leaves a truncated object under its digest.
    const tmp = join(dir, sub, `.tmp-${process.pid}-${tmpSeq++}`);
    write(tmp);
    if (needChmod) chmodSync(tmp, 0o644);
    renameSync(tmp, dst);
    count++;
  };
  return {
    dir,
    get count() {
      return count;
    },
    addFile(digest, srcPath) {
      place(digest, (tmp) => copyFileSync(srcPath, tmp));
    },
    addBytes(digest, data) {
      place(digest, (tmp) => writeFileSync(tmp, data, { mode: 0o644 }));
    },
    beginObject() {
      const tmp = join(dir, `.tmp-${process.pid}-${tmpSeq++}`);
      const fd = openSync(tmp, "wx", 0o644);
      let open = true;
      const close = (): void => {
        if (open) closeSync(fd);
        open = false;
      };
      return {
        write(data) {
          let off = 0;
          while (off < data.length) off += writeSync(fd, data, off, data.length - off);
        },
        commit(digest) {
          close();
          place(digest, (dst) => renameSync(tmp, dst));
          rmSync(tmp, { force: true }); // still there only if the object already existed
        },
        abort() {
          close();
          rmSync(tmp, { force: true });
        },
      };
    },
  };
}
