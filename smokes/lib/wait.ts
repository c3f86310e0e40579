/** Waiting on named conditions, never bare sleeps. */

export class WaitTimeoutError extends Error {
  constructor(what: string, timeoutMs: number, last: unknown) {
    const detail = last instanceof Error ? last.message : last === undefined ? "" : String(last);
    super(
      `timed out after ${(timeoutMs / 1000).toFixed(0)} s waiting for ${what}${detail ? ` (last: ${detail})` : ""}`,
    );
    this.name = "WaitTimeoutError";
  }
}

/**
 * Polls `probe` until it returns a value other than undefined/false, or throws WaitTimeoutError
 * naming `what` and the last error or value seen.
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  opts: { timeoutMs: number; intervalMs?: number },
): Promise<T> {
  const deadline = Date.now() + opts.timeoutMs;
  const interval = opts.intervalMs ?? 250;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() >= deadline) throw new WaitTimeoutError(what, opts.timeoutMs, last);
    await Bun.sleep(Math.min(interval, Math.max(0, deadline - Date.now())));
  }
}
