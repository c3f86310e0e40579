/** Time for the session: wall clock, uptime (CLOCK_BOOTTIME seconds) and abortable sleeps. */

export interface Clock {
  now(): Date;
  /** Seconds since the kernel started (the agent passes /proc/uptime); in process, since the clock was made. */
  uptimeSeconds(): number;
  /** Resolves after `ms`, or early (without throwing) when `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** Abortable sleep on a real timer. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}

/** The real clock; `uptimeSeconds` defaults to time since this call (in-process sessions have no boot). */
export function createSystemClock(uptimeSeconds?: () => number): Clock {
  const t0 = performance.now();
  return {
    now: () => new Date(),
    uptimeSeconds: uptimeSeconds ?? (() => (performance.now() - t0) / 1000),
    sleep,
  };
}
