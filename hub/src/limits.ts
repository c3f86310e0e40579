/**
 * The hub's load limits (issue 23): call rates per node and per source address, connections per source
 * address and the timeouts of the node listener and of the operator TLS listener (decision 0016), parsed from the environment with the rest of the config.
 * Every limit and its default is listed in docs/security.md ("Limits and timeouts").
 */

/** Limits on what one node or one source address may cost the hub. */
export interface HubLimits {
  /** Token bucket per node (CN of a verified client certificate): refill per second; 0 = no limit. */
  nodeCallsPerSecond: number;
  /** Its capacity: calls a node may make at once after a quiet spell. */
  nodeCallBurst: number;
  /** Token bucket per source address for calls without a verified certificate (Enroll); 0 = no limit. */
  anonymousCallsPerSecond: number;
  anonymousCallBurst: number;
  /** Concurrent connections per source address on the node (mTLS) listener; 0 = no limit. */
  maxConnectionsPerAddress: number;
  /** Addresses the per-address limits leave alone (loopback by default: QEMU user networking). */
  exemptAddresses: string[];
  /**
   * Node listener: from accept (or from the end of the previous request) until a request's headers are
   * complete; covers the TLS handshake. Also the idle limit of HTTP/1.1 and anonymous HTTP/2 connections.
   */
  headersTimeoutMs: number;
  /** Node listener: from a request's headers until its body has arrived in full. */
  bodyTimeoutMs: number;
  /** Node listener: an HTTP/2 session with a verified client certificate and no open stream. */
  idleTimeoutMs: number;
  /** Operator (TLS) listener: concurrent connections per source address; 0 = no limit. */
  operatorConnectionsPerAddress: number;
  /** Operator listener: from accept (or the end of the previous request) until a request's headers are in. */
  operatorHeadersTimeoutMs: number;
  /** Operator listener: from a request's headers until its body has arrived (module blobs are large). */
  operatorBodyTimeoutMs: number;
  /** Operator listener: an HTTP/2 session with no open stream (a console tab, a pnctl watch between calls). */
  operatorIdleTimeoutMs: number;
}

/** The defaults: far above what an agent does (a heartbeat every few seconds, status bursts at boot). */
export const DEFAULT_LIMITS: HubLimits = {
  nodeCallsPerSecond: 20,
  nodeCallBurst: 200,
  anonymousCallsPerSecond: 5,
  anonymousCallBurst: 50,
  maxConnectionsPerAddress: 64,
  exemptAddresses: ["127.0.0.1", "::1"],
  headersTimeoutMs: 20_000,
  bodyTimeoutMs: 20_000,
  idleTimeoutMs: 300_000,
  operatorConnectionsPerAddress: 64,
  operatorHeadersTimeoutMs: 20_000,
  operatorBodyTimeoutMs: 3_600_000,
  operatorIdleTimeoutMs: 300_000,
};

/** No rate or connection limits (timeouts kept): for suites that send thousands of calls as one node. */
export const UNLIMITED: HubLimits = {
  ...DEFAULT_LIMITS,
  nodeCallsPerSecond: 0,
  anonymousCallsPerSecond: 0,
  maxConnectionsPerAddress: 0,
  operatorConnectionsPerAddress: 0,
};

/** `::ffff:10.0.0.1` -> `10.0.0.1`, so one client is one address whichever socket family saw it. */
export function normaliseAddress(address: string | undefined): string {
  const a = (address ?? "").toLowerCase();
  return a.startsWith("::ffff:") && a.includes(".") ? a.slice(7) : a;
}

function int(
  env: Record<string, string | undefined>,
  name: string,
  fallback: number,
  range: [number, number],
  problems: string[],
): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < range[0] || n > range[1]) {
    problems.push(`${name}: "${raw}" must be an integer from ${range[0]} to ${range[1]}`);
    return fallback;
  }
  return n;
}

/** Reads the POWERNODE_* limit variables; problems are appended to `problems`. */
export function parseLimits(env: Record<string, string | undefined>, problems: string[]): HubLimits {
  const d = DEFAULT_LIMITS;
  const seconds = (name: string, ms: number) => int(env, name, ms / 1000, [1, 3600], problems) * 1000;
  const rawExempt = env.POWERNODE_LIMIT_EXEMPT_ADDRESSES;
  let exemptAddresses = d.exemptAddresses;
  if (rawExempt !== undefined && rawExempt !== "") {
    const list = rawExempt.split(/[\s,]+/).filter((a) => a !== "");
    for (const a of list) {
      if (a !== "none" && !/^[0-9A-Fa-f.:]+$/.test(a))
        problems.push(`POWERNODE_LIMIT_EXEMPT_ADDRESSES: "${a}" is not an IP address`);
    }
    exemptAddresses = list.filter((a) => a !== "none").map(normaliseAddress);
  }
  const limits: HubLimits = {
    nodeCallsPerSecond: int(
      env,
      "POWERNODE_NODE_CALLS_PER_SECOND",
      d.nodeCallsPerSecond,
      [0, 100_000],
      problems,
    ),
    nodeCallBurst: int(env, "POWERNODE_NODE_CALL_BURST", d.nodeCallBurst, [1, 1_000_000], problems),
    anonymousCallsPerSecond: int(
      env,
      "POWERNODE_ANONYMOUS_CALLS_PER_SECOND",
      d.anonymousCallsPerSecond,
      [0, 100_000],
      problems,
    ),
    anonymousCallBurst: int(
      env,
      "POWERNODE_ANONYMOUS_CALL_BURST",
      d.anonymousCallBurst,
      [1, 1_000_000],
      problems,
    ),
    maxConnectionsPerAddress: int(
      env,
      "POWERNODE_CONNECTIONS_PER_ADDRESS",
      d.maxConnectionsPerAddress,
      [0, 1_000_000],
      problems,
    ),
    exemptAddresses,
    headersTimeoutMs: seconds("POWERNODE_NODE_HEADERS_TIMEOUT_SECONDS", d.headersTimeoutMs),
    bodyTimeoutMs: seconds("POWERNODE_NODE_BODY_TIMEOUT_SECONDS", d.bodyTimeoutMs),
    idleTimeoutMs: seconds("POWERNODE_NODE_IDLE_TIMEOUT_SECONDS", d.idleTimeoutMs),
    operatorConnectionsPerAddress: int(
      env,
      "POWERNODE_OPERATOR_CONNECTIONS_PER_ADDRESS",
      d.operatorConnectionsPerAddress,
      [0, 1_000_000],
      problems,
    ),
    operatorHeadersTimeoutMs: seconds(
      "POWERNODE_OPERATOR_HEADERS_TIMEOUT_SECONDS",
      d.operatorHeadersTimeoutMs,
    ),
    operatorBodyTimeoutMs: seconds("POWERNODE_OPERATOR_BODY_TIMEOUT_SECONDS", d.operatorBodyTimeoutMs),
    operatorIdleTimeoutMs: seconds("POWERNODE_OPERATOR_IDLE_TIMEOUT_SECONDS", d.operatorIdleTimeoutMs),
  };
  return limits;
}
