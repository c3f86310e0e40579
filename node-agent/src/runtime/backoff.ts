/**
 * Jittered exponential backoff for every retry loop that talks to the hub: the delay doubles from
 * `initialMs` up to `maxMs` (cap), and each delay is shortened by a random part of up to `jitter`
 * so a fleet that lost its hub does not come back in lock-step. Never longer than the cap.
 */

export interface BackoffOptions {
  /** First delay. Default 1000 ms. */
  initialMs?: number;
  /** Cap. Default 30 000 ms. */
  maxMs?: number;
  /** Growth factor. Default 2. */
  factor?: number;
  /** Fraction of the delay that is random, 0..1. Default 0.25 (delay in [0.75 d, d]). */
  jitter?: number;
  /** Source of randomness in [0, 1) (tests pin it). */
  random?: () => number;
}

export interface Backoff {
  /** The next delay in ms; each call grows the base delay. */
  next(): number;
  /** After a success: the next failure starts again at `initialMs`. */
  reset(): void;
  /** Failures since the last reset. */
  attempts(): number;
}

/** Creates a backoff with the given options (defaults: 1 s, doubling, cap 30 s, 25 % jitter). */
export function createBackoff(opts: BackoffOptions = {}): Backoff {
  const initial = opts.initialMs ?? 1000;
  const max = Math.max(opts.maxMs ?? 30_000, initial);
  const factor = opts.factor ?? 2;
  const jitter = Math.min(Math.max(opts.jitter ?? 0.25, 0), 1);
  const random = opts.random ?? Math.random;
  let n = 0;
  return {
    next() {
      const base = Math.min(max, initial * factor ** n);
      n++;
      return Math.round(base * (1 - jitter * random()));
    },
    reset() {
      n = 0;
    },
    attempts: () => n,
  };
}
