/**
 * Token buckets by key (a node id, a source address): each key may spend `burst` calls at once and
 * gets `perSecond` back every second. Memory is bounded: past `maxKeys`, buckets that are full again
 * (they hold no state worth keeping) are dropped first, then the oldest.
 */

/** A set of token buckets sharing one rate. */
export interface TokenBuckets {
  /** Takes one token from `key`'s bucket; false when it is empty (the call is over the rate). */
  take(key: string, nowMs?: number): boolean;
  /** Keys with a bucket (tests, metrics). */
  size(): number;
}

interface Bucket {
  tokens: number;
  at: number;
}

/** Creates buckets refilled at `perSecond` up to `burst`; `perSecond` 0 means no limit. */
export function createTokenBuckets(opts: {
  perSecond: number;
  burst: number;
  maxKeys?: number;
}): TokenBuckets {
  const { perSecond, burst } = opts;
  const maxKeys = opts.maxKeys ?? 100_000;
  const buckets = new Map<string, Bucket>();
  const refill = (b: Bucket, now: number) => {
    b.tokens = Math.min(burst, b.tokens + ((now - b.at) / 1000) * perSecond);
    b.at = now;
  };
  const evict = (now: number) => {
    for (const [k, b] of buckets) {
      refill(b, now);
      if (b.tokens >= burst) buckets.delete(k);
    }
    // Still full of busy keys: drop the oldest (Map order is insertion order).
    for (const k of buckets.keys()) {
      if (buckets.size < maxKeys) break;
      buckets.delete(k);
    }
  };
  return {
    take(key, now = performance.now()) {
      if (perSecond <= 0) return true;
      let b = buckets.get(key);
      if (!b) {
        if (buckets.size >= maxKeys) evict(now);
        b = { tokens: burst, at: now };
        buckets.set(key, b);
      } else refill(b, now);
      if (b.tokens < 1) return false;
      b.tokens -= 1;
      return true;
    },
    size: () => buckets.size,
  };
}
