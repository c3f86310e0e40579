/**
 * The claim-mode part of the hub's configuration: how long a claim code lives, how often devices are
 * told to poll, and how many discoveries one source address may make (the claim endpoint is public).
 */

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

function whole(
  env: Record<string, string | undefined>,
  name: string,
  fallback: number,
  [min, max]: [number, number],
  problems: string[],
): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    problems.push(`${name}: "${raw}" must be a whole number from ${min} to ${max}`);
    return fallback;
  }
  return Number(raw);
}

/** Reads the claim variables, adding every problem to `problems`. */
export function parseClaimsConfig(env: Record<string, string | undefined>, problems: string[]): ClaimsConfig {
  return {
    ttlSeconds: whole(env, "POWERNODE_CLAIM_TTL_SECONDS", DEFAULT_CLAIMS.ttlSeconds, [1, 604_800], problems),
    pollSeconds: whole(env, "POWERNODE_CLAIM_POLL_SECONDS", DEFAULT_CLAIMS.pollSeconds, [1, 3600], problems),
    discoverBurst: whole(
      env,
      "POWERNODE_CLAIM_DISCOVER_BURST",
      DEFAULT_CLAIMS.discoverBurst,
      [1, 10_000],
      problems,
    ),
    discoversPerMinute: whole(
      env,
      "POWERNODE_CLAIM_DISCOVERS_PER_MINUTE",
      DEFAULT_CLAIMS.discoversPerMinute,
      [1, 60_000],
      problems,
    ),
  };
}
