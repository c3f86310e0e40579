/**
 * The one shape of every live stream the hub serves (WatchEvents, WatchDesiredState, the SSE event
 * stream): subscribe first, then replay what the client missed, then send live items as they come,
 * with a keepalive when the stream is quiet. Subscribing before the replay means nothing written in
 * between is lost; `dedupe` drops live items the replay already sent.
 */

export interface WatchSpec<T> {
  signal: AbortSignal;
  /** Starts delivering live items to `push`; returns the unsubscribe. */
  subscribe(push: (item: T) => void): () => void;
  /** Items to send first, read after subscribing. */
  replay?(): Promise<readonly T[]>;
  /** A key per item: live items whose key the replay sent are skipped. */
  key?(item: T): string;
  /** After this long without an item, `keepalive()` is sent (when given). */
  keepaliveMs?: number;
  keepalive?(): T;
}

/** Yields replay, then live items, then keepalives, until `signal` aborts. */
export async function* watch<T>(spec: WatchSpec<T>): AsyncGenerator<T> {
  const queue: T[] = [];
  let wake: (() => void) | undefined;
  const unsubscribe = spec.subscribe((item) => {
    queue.push(item);
    wake?.();
  });
  const onAbort = () => wake?.();
  spec.signal.addEventListener("abort", onAbort);
  try {
    const sent = new Set<string>();
    for (const item of (await spec.replay?.()) ?? []) {
      if (spec.key) sent.add(spec.key(item));
      yield item;
    }
    while (!spec.signal.aborted) {
      while (queue.length > 0) {
        const item = queue.shift() as T;
        if (spec.key && sent.size > 0 && sent.has(spec.key(item))) continue;
        yield item;
      }
      sent.clear();
      let timedOut = false;
      await new Promise<void>((resolve) => {
        wake = resolve;
        if (queue.length > 0 || spec.signal.aborted) return resolve();
        if (spec.keepaliveMs !== undefined && spec.keepalive) {
          setTimeout(() => {
            timedOut = true;
            resolve();
          }, spec.keepaliveMs).unref?.();
        }
      });
      wake = undefined;
      if (timedOut && queue.length === 0 && !spec.signal.aborted && spec.keepalive) yield spec.keepalive();
    }
  } finally {
    unsubscribe();
    spec.signal.removeEventListener("abort", onAbort);
  }
}
