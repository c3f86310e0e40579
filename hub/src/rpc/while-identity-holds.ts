/**
 * A node's server stream (WatchDesiredState, WatchMeshPeers) outlives the check made when it opened:
 * this re-checks the caller's identity every `everyMs` and ends the stream with that refusal once the
 * certificate is revoked, expired or superseded, so an open stream is cut like any new call would be.
 */

/** Yields `inner` while `check` keeps resolving; throws the first refusal. */
export async function* whileIdentityHolds<T>(
  inner: AsyncIterable<T>,
  check: () => Promise<unknown>,
  everyMs: number,
): AsyncGenerator<T> {
  const it = inner[Symbol.asyncIterator]();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let stopped = false;
  const refused = new Promise<never>((_, reject) => {
    const tick = () => {
      check().then(() => {
        if (!stopped) timer = setTimeout(tick, everyMs);
      }, reject);
    };
    timer = setTimeout(tick, everyMs);
  });
  // Only observed through the race below; never an unhandled rejection.
  refused.catch(() => {});
  try {
    for (;;) {
      const r = await Promise.race([it.next(), refused]);
      if (r.done) return;
      yield r.value;
    }
  } finally {
    stopped = true;
    clearTimeout(timer);
    // Ends the handler's generator at its next step (the handler's signal is aborted as well).
    void it.return?.(undefined)?.catch(() => {});
  }
}
