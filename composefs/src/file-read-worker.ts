/**
 * A worker of tree-from-directory-parallel.ts: reads batches of regular files (xattrs, then inline
 * content or the fs-verity digest) with the same code the single-threaded walk uses, and answers with
 * what it read, in order. A failure answers the batch with the error (its message names the path).
 */
import { digestFileAt } from "./file-digests.ts";
import { packReads } from "./file-read-pack.ts";
import { AT_FDCWD } from "./fs-ffi.ts";
import type { FileSize } from "./tree.ts";

export interface ReadBatch {
  id: number;
  inlineMax: number;
  withXattrs: boolean;
  files: [path: string, size: FileSize][];
}

/** `packed`: the batch's reads in order (file-read-pack.ts). */
export type ReadBatchResult = { id: number; packed: Uint8Array } | { id: number; error: string };

declare const self: Worker;

self.onmessage = (e: MessageEvent<ReadBatch>) => {
  const { id, inlineMax, withXattrs, files } = e.data;
  try {
    const reads = files.map(([path, size]) =>
      digestFileAt(AT_FDCWD, path, path, size, inlineMax, withXattrs, undefined),
    );
    const packed = packReads(reads);
    self.postMessage({ id, packed } satisfies ReadBatchResult, { transfer: [packed.buffer as ArrayBuffer] });
  } catch (err) {
    self.postMessage({
      id,
      error: err instanceof Error ? err.message : String(err),
    } satisfies ReadBatchResult);
  }
};
