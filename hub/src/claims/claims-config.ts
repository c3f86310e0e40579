/**
 * The claim-mode part of the hub's configuration: how long a claim code lives, how often devices are
 * told to poll, and how many discoveries one source address may make (the claim endpoint is public).
 */
import { wholeFromEnv } from "../env-number.ts";

export interface ClaimsConfig {
  /** POWERNODE_CLAIM_TTL_SECONDS (default 3600): a code not confirmed by then expires. */
  ttlSeconds: number;
  /** POWERNODE_CLAIM_POLL_SECONDS (default 5): the poll interval devices are given. */
  pollSeconds: number;
  /** POWERNODE_CLAIM_DISCOVER_BURST (default 10): discoveries a source may make at once. */
  discoverBurst: number;
  /** POWERNODE_CLAIM_DISCOVERS_PER_MINUTE (default 6): their refill. Loopback is not exempt. */
  discoversPerMinute: number;
}

export const DEFAULT_CLAIMS: ClaimsConfig = {
  ttlSeconds: 3600,
  pollSeconds: 5,
  discoverBurst: 10,
  discoversPerMinute: 6,
};

/** Reads the claim variables, adding every problem to `problems`. */
export function parseClaimsConfig(env: Record<string, string | undefined>, problems: string[]): ClaimsConfig {
  return {
    ttlSeconds: wholeFromEnv(
      env,
      "POWERNODE_CLAIM_TTL_SECONDS",
      DEFAULT_CLAIMS.ttlSeconds,
      [1, 604_800],
      problems,
    ),
    pollSeconds: wholeFromEnv(
      env,
      "POWERNODE_CLAIM_POLL_SECONDS",
      DEFAULT_CLAIMS.pollSeconds,
      [1, 3600],
      problems,
    ),
    discoverBurst: wholeFromEnv(
      env,
      "POWERNODE_CLAIM_DISCOVER_BURST",
      DEFAULT_CLAIMS.discoverBurst,
      [1, 10_000],
      problems,
    ),
    discoversPerMinute: wholeFromEnv(
      env,
      "POWERNODE_CLAIM_DISCOVERS_PER_MINUTE",
      DEFAULT_CLAIMS.discoversPerMinute,
      [1, 60_000],
      problems,
    ),
  };
}
