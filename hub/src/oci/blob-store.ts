/**
 * Content-addressed blob storage and resumable upload sessions on the filesystem.
 *
 * Layout under `dataDir`:
 * - `blobs/sha256/<hex>`: verified content, written to `tmp/` and renamed only after its digest matched;
 * - `uploads/<id>/data` + `uploads/<id>/meta.json`: an upload session; its offset is the size of `data`.
 *
 * Bodies are streamed to disk while hashed, so memory stays bounded whatever the blob size.
 */
import { mkdir, open, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Digest } from "./reference.ts";

/** What `stat` reports for a stored blob. */
export interface BlobInfo {
  digest: string;
  size: number;
  path: string;
}

/** The state of an upload session. */
export interface UploadInfo {
  id: string;
  name: string;
  offset: number;
}

/** The outcome of writing content that must match a digest. */
export type CommitResult = { ok: true; blob: BlobInfo } | { ok: false; actual: string; size: number };

/** Raised when a chunk does not start at the session's offset or its length differs from its range. */
export class UploadRangeError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
    this.name = "UploadRangeError";
  }
}

/** Raised when a streamed body is larger than allowed. */
export class TooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`body larger than ${limit} bytes`);
    this.name = "TooLargeError";
  }
}

/** Raised when reading a request body fails (client disconnected, aborted upload). */
export class BodyReadError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "BodyReadError";
  }
}

/** True for a BodyReadError. */
export function isBodyReadError(e: unknown): e is BodyReadError {
  return e instanceof Error && e.name === "BodyReadError";
}

/** True for an UploadRangeError (checked by name, not instanceof). */
export function isUploadRangeError(e: unknown): e is UploadRangeError {
  return (
    e instanceof Error &&
    e.name === "UploadRangeError" &&
    typeof (e as { offset?: unknown }).offset === "number"
  );
}

/** True for a TooLargeError. */
export function isTooLargeError(e: unknown): e is TooLargeError {
  return e instanceof Error && e.name === "TooLargeError";
}

/** Blob and upload-session storage; see the module comment for the layout. */
export interface BlobStore {
  stat(digest: Digest): Promise<BlobInfo | undefined>;
  /** Stores bytes already in memory (manifests, configs) and returns their digest. */
  putBytes(bytes: Uint8Array): Promise<BlobInfo>;
  /** Streams `body` to a temp file and stores it only if it hashes to `expected`. */
  putStream(body: ReadableStream<Uint8Array> | null, expected: Digest): Promise<CommitResult>;
  createUpload(name: string): Promise<UploadInfo>;
  getUpload(id: string): Promise<UploadInfo | undefined>;
  /**
   * Appends `body` at `start` (default: the current offset). A chunk that does not start at the offset,
   * or whose length differs from `length`, throws UploadRangeError and leaves the session unchanged.
   */
  appendUpload(
    id: string,
    body: ReadableStream<Uint8Array> | null,
    start?: number,
    length?: number,
  ): Promise<UploadInfo>;
  /** Verifies the session's content against `expected`; on a match stores it, either way ends the session. */
  commitUpload(id: string, expected: Digest): Promise<CommitResult>;
  cancelUpload(id: string): Promise<boolean>;
}

const UPLOAD_ID_RE = /^[a-f0-9-]{36}$/;

/** Creates the blob store rooted at `dataDir` (directories are created on first use). */
export function createBlobStore(dataDir: string): BlobStore {
  const blobsDir = join(dataDir, "blobs", "sha256");
  const uploadsDir = join(dataDir, "uploads");
  const tmpDir = join(dataDir, "tmp");
  // Running hash state of live sessions, so the final PUT does not re-read the data. Lost on restart,
  // in which case commit re-hashes the file from disk (node:crypto hash state cannot be serialised).
  const hashers = new Map<string, { hasher: Bun.CryptoHasher; offset: number }>();
  const locks = new Map<string, Promise<unknown>>();
  let ready: Promise<void> | undefined;

  const ensureDirs = () => {
    ready ??= Promise.all([blobsDir, uploadsDir, tmpDir].map((d) => mkdir(d, { recursive: true }))).then(
      () => {},
    );
    return ready;
  };

  /** Serialises operations on one upload session (two PATCHes racing would corrupt the offset). */
  const withLock = async <T>(id: string, fn: () => Promise<T>): Promise<T> => {
    const prev = locks.get(id) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.catch(() => undefined);
    locks.set(id, tail);
    try {
      return await next;
    } finally {
      if (locks.get(id) === tail) locks.delete(id);
    }
  };

  const statPath = async (digestText: string, path: string): Promise<BlobInfo | undefined> => {
    try {
      const s = await stat(path);
      return s.isFile() ? { digest: digestText, size: s.size, path } : undefined;
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw new Error(`stat ${path}`, { cause: e });
    }
  };

  const install = async (tmp: string, hex: string): Promise<BlobInfo> => {
    const path = join(blobsDir, hex);
    // rename(2) is atomic: readers see either no blob or the whole verified blob.
    await rename(tmp, path);
    const info = await statPath(`sha256:${hex}`, path);
    if (!info) throw new Error(`blob ${hex} vanished after rename`);
    return info;
  };

  const uploadDir = (id: string) => join(uploadsDir, id);

  const getUpload = async (id: string): Promise<UploadInfo | undefined> => {
    if (!UPLOAD_ID_RE.test(id)) return undefined;
    try {
      const meta = JSON.parse(await readFile(join(uploadDir(id), "meta.json"), "utf8")) as { name?: unknown };
      const s = await stat(join(uploadDir(id), "data"));
      return typeof meta.name === "string" ? { id, name: meta.name, offset: s.size } : undefined;
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw new Error(`reading upload ${id}`, { cause: e });
    }
  };

  return {
    stat: async (digest) => statPath(digest.text, join(blobsDir, digest.hex)),

    async putBytes(bytes) {
      await ensureDirs();
      const hex = new Bun.CryptoHasher("sha256").update(bytes).digest("hex");
      const existing = await statPath(`sha256:${hex}`, join(blobsDir, hex));
      if (existing) return existing;
      const tmp = join(tmpDir, crypto.randomUUID());
      await writeFile(tmp, bytes);
      return install(tmp, hex);
    },

    async putStream(body, expected) {
      await ensureDirs();
      const tmp = join(tmpDir, crypto.randomUUID());
      const hasher = new Bun.CryptoHasher("sha256");
      const fh = await open(tmp, "w");
      let size = 0;
      try {
        size = await writeBody(fh, 0, body, hasher);
      } catch (e) {
        await rm(tmp, { force: true });
        throw e;
      } finally {
        await fh.close();
      }
      const actual = `sha256:${hasher.digest("hex")}`;
      if (actual !== expected.text) {
        await rm(tmp, { force: true });
        return { ok: false, actual, size };
      }
      return { ok: true, blob: await install(tmp, expected.hex) };
    },

    async createUpload(name) {
      await ensureDirs();
      const id = crypto.randomUUID();
      await mkdir(uploadDir(id));
      await writeFile(join(uploadDir(id), "data"), new Uint8Array(0));
      await writeFile(
        join(uploadDir(id), "meta.json"),
        JSON.stringify({ name, startedAt: new Date().toISOString() }),
      );
      hashers.set(id, { hasher: new Bun.CryptoHasher("sha256"), offset: 0 });
      return { id, name, offset: 0 };
    },

    getUpload,

    appendUpload: (id, body, start, length) =>
      withLock(id, async () => {
        const up = await getUpload(id);
        if (!up) throw new Error(`upload ${id} is unknown`);
        if (start !== undefined && start !== up.offset) {
          throw new UploadRangeError(`chunk starts at ${start}, upload is at ${up.offset}`, up.offset);
        }
        let h = hashers.get(id);
        if (h && h.offset !== up.offset) {
          hashers.delete(id);
          h = undefined;
        }
        const fh = await open(join(uploadDir(id), "data"), "r+");
        try {
          const n = await writeBody(fh, up.offset, body, h?.hasher, length);
          if (length !== undefined && n !== length) {
            throw new UploadRangeError(`chunk has ${n} bytes, Content-Range says ${length}`, up.offset);
          }
          if (h) h.offset = up.offset + n;
          return { ...up, offset: up.offset + n };
        } catch (e) {
          // Keep chunks atomic: roll the data back to the previous offset, and forget the running hash,
          // which may include bytes that are now gone (commit re-hashes from disk).
          await fh.truncate(up.offset);
          hashers.delete(id);
          if (isTooLargeError(e) && length !== undefined) {
            throw new UploadRangeError(
              `chunk is longer than the ${length} bytes its Content-Range says`,
              up.offset,
            );
          }
          throw e;
        } finally {
          await fh.close();
        }
      }),

    commitUpload: (id, expected) =>
      withLock(id, async () => {
        const up = await getUpload(id);
        if (!up) throw new Error(`upload ${id} is unknown`);
        const dataPath = join(uploadDir(id), "data");
        const h = hashers.get(id);
        const actual = `sha256:${h && h.offset === up.offset ? h.hasher.digest("hex") : await hashFile(dataPath)}`;
        hashers.delete(id);
        try {
          if (actual !== expected.text) return { ok: false, actual, size: up.offset };
          return { ok: true, blob: await install(dataPath, expected.hex) };
        } finally {
          await rm(uploadDir(id), { recursive: true, force: true });
        }
      }),

    cancelUpload: (id) =>
      withLock(id, async () => {
        const up = await getUpload(id);
        hashers.delete(id);
        if (!up) return false;
        await rm(uploadDir(id), { recursive: true, force: true });
        return true;
      }),
  };
}

/**
 * Copies a request body to `fh` at `position`, feeding `hasher`; returns the byte count. Throws
 * TooLargeError past `limit` bytes (the caller rolls back). Each write is awaited before the next
 * chunk is read, which is the backpressure that keeps memory bounded.
 */
async function writeBody(
  fh: Awaited<ReturnType<typeof open>>,
  position: number,
  body: ReadableStream<Uint8Array> | null,
  hasher: Bun.CryptoHasher | undefined,
  limit?: number,
): Promise<number> {
  if (!body) return 0;
  let n = 0;
  for await (const chunk of readBody(body)) {
    if (limit !== undefined && n + chunk.byteLength > limit) throw new TooLargeError(limit);
    hasher?.update(chunk);
    let off = 0;
    while (off < chunk.byteLength) {
      const { bytesWritten } = await fh.write(chunk, off, chunk.byteLength - off, position + n + off);
      off += bytesWritten;
    }
    n += chunk.byteLength;
  }
  return n;
}

/**
 * Iterates a request body, turning a failed read (the client went away mid-body) into a
 * BodyReadError, so it is told apart from a storage failure.
 */
export async function* readBody(body: ReadableStream<Uint8Array>): AsyncGenerator<Uint8Array> {
  const reader = body.getReader();
  try {
    for (;;) {
      let r: Awaited<ReturnType<typeof reader.read>>;
      try {
        r = await reader.read();
      } catch (e) {
        throw new BodyReadError("request body ended early", { cause: e });
      }
      if (r.done) return;
      yield r.value;
    }
  } finally {
    reader.releaseLock();
  }
}

/** Hashes a file by streaming it (used when a session's running hash was lost). */
export async function hashFile(path: string): Promise<string> {
  const hasher = new Bun.CryptoHasher("sha256");
  for await (const chunk of Bun.file(path).stream()) hasher.update(chunk);
  return hasher.digest("hex");
}

function isNotFound(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return code === "ENOENT" || code === "ENOTDIR";
}
