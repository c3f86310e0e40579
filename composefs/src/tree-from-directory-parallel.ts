/**
 * {@link treeFromDirectory} with the regular files read on several threads: the walk (getdents, statx)
 * stays on this thread and hands files to workers in batches as it finds them, so reading and digesting
 * (open, xattrs, pread, fs-verity) overlaps the walk and spreads over the cores. The tree, and so the
 * image, is the same as the single-threaded walk's (tested). With an object store it is that walk.
 */
import { availableParallelism } from "node:os";
import { RECOMMENDED_INLINE_MAX } from "./erofs-format.ts";
import { unpackReads } from "./file-read-pack.ts";
import type { ReadBatch, ReadBatchResult } from "./file-read-worker.ts";
import type { DirNode, FileNode } from "./tree.ts";
import {
  fileNode,
  nodeMeta,
  type TreeFromDirectoryOptions,
  treeFromDirectory,
  walkDirectory,
} from "./tree-from-directory.ts";

export interface ParallelTreeOptions extends TreeFromDirectoryOptions {
  /** Reader threads (default: the machine's cores, at most 4); 1 reads on this thread. */
  threads?: number;
}

const BATCH = 512;

export async function treeFromDirectoryParallel(
  dir: string,
  opts: ParallelTreeOptions = {},
): Promise<DirNode> {
  const threads = opts.threads ?? Math.min(4, availableParallelism());
  if (threads <= 1 || opts.store) return treeFromDirectory(dir, opts);
  const inlineMax = opts.inlineMax ?? RECOMMENDED_INLINE_MAX;
  const withXattrs = opts.xattrs ?? true;
  const workers = Array.from(
    { length: threads },
    () => new Worker(new URL("./file-read-worker.ts", import.meta.url)),
  );
  const waiting = new Map<number, { resolve(r: ReadBatchResult): void }>();
  for (const w of workers)
    w.onmessage = (e: MessageEvent<ReadBatchResult>) => {
      waiting.get(e.data.id)?.resolve(e.data);
      waiting.delete(e.data.id);
    };
  const done: Promise<void>[] = [];
  let batch: { node: FileNode; st: Parameters<typeof fileNode>[0] }[] = [];
  let files: ReadBatch["files"] = [];
  let next = 0;
  const flush = () => {
    if (files.length === 0) return;
    const id = next++;
    const nodes = batch;
    const answer = new Promise<ReadBatchResult>((resolve) => waiting.set(id, { resolve }));
    (workers[id % workers.length] as Worker).postMessage({
      id,
      inlineMax,
      withXattrs,
      files,
    } satisfies ReadBatch);
    done.push(
      answer.then((r) => {
        if ("error" in r) throw new Error(r.error);
        // Fill the placeholders in place: the tree (and hardlinked names) already point at them.
        unpackReads(r.packed, nodes.length).forEach((read, i) => {
          const slot = nodes[i];
          if (slot) Object.assign(slot.node, fileNode(slot.st, read));
        });
      }),
    );
    batch = [];
    files = [];
  };
  try {
    const tree = walkDirectory(dir, opts, (_dirfd, _name, path, st) => {
      const node: FileNode = { ...nodeMeta(st, []), type: "file", size: st.size };
      batch.push({ node, st });
      files.push([path, st.size]);
      if (files.length >= BATCH) flush();
      return node;
    });
    flush();
    await Promise.all(done);
    return tree;
  } catch (err) {
    for (const d of done) d.catch(() => undefined); // the walk's error is the one to report
    throw err;
  } finally {
    for (const w of workers) w.terminate();
  }
}
