import { describe, expect, test } from "bun:test";
import { type ConfigError, parseHubConfig } from "./config.ts";
import { DEFAULT_LIMITS, normaliseAddress, parseLimits } from "./limits.ts";

describe("limits", () => {
  test("defaults: a half-sent request on the node listener is dropped within 30 s", () => {
    expect(DEFAULT_LIMITS.headersTimeoutMs).toBeLessThanOrEqual(30_000);
    expect(DEFAULT_LIMITS.bodyTimeoutMs).toBeLessThanOrEqual(30_000);
    expect(parseHubConfig({}).limits).toEqual(DEFAULT_LIMITS);
  });

  test("defaults leave an agent's boot (a burst of status reports, then a heartbeat every few s) alone", () => {
    // Boot: enroll, watch, mesh watch, ~30 status reports and heartbeats in the first seconds.
    expect(DEFAULT_LIMITS.nodeCallBurst).toBeGreaterThanOrEqual(100);
    expect(DEFAULT_LIMITS.nodeCallsPerSecond).toBeGreaterThanOrEqual(5);
    expect(DEFAULT_LIMITS.idleTimeoutMs).toBeGreaterThan(60_000);
  });

  test("every variable", () => {
    expect(
      parseLimits(
        {
          POWERNODE_NODE_CALLS_PER_SECOND: "7",
          POWERNODE_NODE_CALL_BURST: "70",
          POWERNODE_ANONYMOUS_CALLS_PER_SECOND: "0",
          POWERNODE_ANONYMOUS_CALL_BURST: "3",
          POWERNODE_CONNECTIONS_PER_ADDRESS: "8",
          POWERNODE_LIMIT_EXEMPT_ADDRESSES: "10.0.0.1, ::FFFF:192.0.2.7",
          POWERNODE_NODE_HEADERS_TIMEOUT_SECONDS: "5",
          POWERNODE_NODE_BODY_TIMEOUT_SECONDS: "6",
          POWERNODE_NODE_IDLE_TIMEOUT_SECONDS: "60",
          POWERNODE_OPERATOR_CONNECTIONS_PER_ADDRESS: "9",
          POWERNODE_OPERATOR_HEADERS_TIMEOUT_SECONDS: "7",
          POWERNODE_OPERATOR_BODY_TIMEOUT_SECONDS: "900",
          POWERNODE_OPERATOR_IDLE_TIMEOUT_SECONDS: "120",
        },
        [],
      ),
    ).toEqual({
      nodeCallsPerSecond: 7,
      nodeCallBurst: 70,
      anonymousCallsPerSecond: 0,
      anonymousCallBurst: 3,
      maxConnectionsPerAddress: 8,
      exemptAddresses: ["10.0.0.1", "192.0.2.7"],
      headersTimeoutMs: 5000,
      bodyTimeoutMs: 6000,
      idleTimeoutMs: 60_000,
      operatorConnectionsPerAddress: 9,
      operatorHeadersTimeoutMs: 7000,
      operatorBodyTimeoutMs: 900_000,
      operatorIdleTimeoutMs: 120_000,
    });
    expect(parseLimits({ POWERNODE_LIMIT_EXEMPT_ADDRESSES: "none" }, []).exemptAddresses).toEqual([]);
  });

  test("bad values are listed with the other config problems", () => {
    let err: unknown;
    try {
      parseHubConfig({
        POWERNODE_NODE_CALL_BURST: "0",
        POWERNODE_NODE_HEADERS_TIMEOUT_SECONDS: "0.5",
        POWERNODE_LIMIT_EXEMPT_ADDRESSES: "localhost",
      });
    } catch (e) {
      err = e;
    }
    expect((err as ConfigError).problems).toEqual([
      'POWERNODE_LIMIT_EXEMPT_ADDRESSES: "localhost" is not an IP address',
      'POWERNODE_NODE_CALL_BURST: "0" must be an integer from 1 to 1000000',
      'POWERNODE_NODE_HEADERS_TIMEOUT_SECONDS: "0.5" must be an integer from 1 to 3600',
    ]);
  });

  test("IPv4-mapped IPv6 addresses count as their IPv4 address", () => {
    expect(normaliseAddress("::ffff:10.1.2.3")).toBe("10.1.2.3");
    expect(normaliseAddress("::1")).toBe("::1");
    expect(normaliseAddress(undefined)).toBe("");
  });
});
