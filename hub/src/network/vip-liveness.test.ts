import { describe, expect, test } from "bun:test";
import {
  decideFailover,
  firstLiveCandidate,
  type HolderState,
  isHolderAlive,
  latestHandshakes,
} from "./vip-liveness.ts";

const now = new Date("2030-01-01T00:00:00Z");
const nowS = now.getTime() / 1000;
const ago = (s: number) => new Date(now.getTime() - s * 1000);
const holder = (
  id: string,
  heartbeatAgo: number | null,
  publicKey: string | null = `k-${id}`,
): HolderState => ({
  memberId: id,
  nodeId: `node-${id}`,
  publicKey,
  lastHeartbeatAt: heartbeatAgo === null ? null : ago(heartbeatAgo),
});
const input = (handshakes: Record<string, number> = {}) => ({
  handshakes: new Map(Object.entries(handshakes)),
  now,
  thresholdSeconds: 15,
});

describe("VIP holder liveness", () => {
  test("a heartbeat under the threshold is alive; at or over it, or none, is not", () => {
    expect(isHolderAlive(holder("a", 14), input())).toBe(true);
    expect(isHolderAlive(holder("a", 15), input())).toBe(false);
    expect(isHolderAlive(holder("a", 600), input())).toBe(false);
    expect(isHolderAlive(holder("a", null), input())).toBe(false);
  });

  test("a peer's recent handshake keeps a holder without heartbeats alive", () => {
    expect(isHolderAlive(holder("a", 600), input({ "k-a": nowS - 5 }))).toBe(true);
    expect(isHolderAlive(holder("a", 600), input({ "k-a": nowS - 15 }))).toBe(false);
    expect(isHolderAlive(holder("a", 600, null), input({ "k-a": nowS }))).toBe(false);
  });

  test("a member that left is never alive", () => {
    expect(isHolderAlive({ ...holder("a", 0), nodeId: null }, input())).toBe(false);
  });

  test("latestHandshakes: the newest per key, a member's report of itself and never-handshaked peers ignored", () => {
    const m = latestHandshakes([
      {
        publicKey: "k-a",
        observed: [
          { publicKey: "k-b", latestHandshakeUnix: 100 },
          { publicKey: "k-a", latestHandshakeUnix: 999 },
        ],
      },
      {
        publicKey: "k-c",
        observed: [
          { publicKey: "k-b", latestHandshakeUnix: 200 },
          { publicKey: "k-d", latestHandshakeUnix: 0 },
        ],
      },
      { publicKey: null, observed: [] },
    ]);
    expect([...m.entries()]).toEqual([["k-b", 200]]);
  });

  test("firstLiveCandidate skips the primary and dead candidates", () => {
    const holders = [holder("a", 0), holder("b", 600), holder("c", 1), holder("d", 0)];
    expect(firstLiveCandidate(holders, input())?.memberId).toBe("c");
    expect(firstLiveCandidate([holder("a", 0)], input())).toBeUndefined();
  });
});

describe("decideFailover", () => {
  test("keeps a VIP whose primary is alive (by heartbeat or by a handshake)", () => {
    expect(decideFailover([holder("a", 3), holder("b", 3)], input())).toEqual({
      action: "keep",
      why: "primary_alive",
    });
    expect(decideFailover([holder("a", 600), holder("b", 3)], input({ "k-a": nowS - 2 }))).toEqual({
      action: "keep",
      why: "primary_alive",
    });
  });

  test("moves a lost primary to the first live candidate of the failover list", () => {
    const holders = [holder("a", 60), holder("b", null), holder("c", 2), holder("d", 1)];
    expect(decideFailover(holders, input())).toEqual({ action: "failover", from: "a", to: "c" });
    expect(decideFailover(holders, input({ "k-b": nowS - 1 }))).toEqual({
      action: "failover",
      from: "a",
      to: "b",
    });
  });

  test("stranded when every candidate is lost too; nothing to do without a failover list", () => {
    expect(decideFailover([holder("a", 60), holder("b", 60)], input())).toEqual({
      action: "stranded",
      from: "a",
    });
    expect(decideFailover([holder("a", 60)], input())).toEqual({ action: "keep", why: "no_candidates" });
    expect(decideFailover([], input())).toEqual({ action: "keep", why: "no_holders" });
  });

  test("a primary whose member left is lost", () => {
    const gone = { ...holder("a", null, null), nodeId: null };
    expect(decideFailover([gone, holder("b", 1)], input())).toEqual({
      action: "failover",
      from: "a",
      to: "b",
    });
  });
});
