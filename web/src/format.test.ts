import { describe, expect, test } from "bun:test";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Arch, NodeState, Severity } from "@powernode/proto/browser";
import {
  age,
  archName,
  bytes,
  clock,
  dateOf,
  duration,
  severityName,
  shortDigest,
  stateName,
  until,
} from "./format.ts";

describe("format", () => {
  test("states, arches and severities are lowercase words", () => {
    expect(stateName(NodeState.RUNNING)).toBe("running");
    expect(stateName(NodeState.DEGRADED)).toBe("degraded");
    expect(archName(Arch.ARM64)).toBe("arm64");
    expect(archName(Arch.UNSPECIFIED)).toBe("?");
    expect(severityName(Severity.CRITICAL)).toBe("critical");
    expect(severityName(Severity.UNSPECIFIED)).toBe("info");
  });

  test("durations, ages and expiry", () => {
    expect(duration(42.9)).toBe("42 s");
    expect(duration(185)).toBe("3 min 05 s");
    expect(duration(7800)).toBe("2 h 10 min");
    expect(duration(3 * 86400 + 7200)).toBe("3 d 2 h");
    expect(duration(-1)).toBe("—");
    const now = new Date("2026-12-04T12:00:00Z");
    expect(age(new Date("2026-12-04T11:59:55Z"), now)).toBe("5 s ago");
    expect(age(undefined, now)).toBe("never");
    expect(until(new Date("2026-12-05T12:00:00Z"), now)).toBe("in 24 h 00 min");
    expect(until(new Date("2026-12-04T10:00:00Z"), now)).toBe("expired 2 h 00 min ago");
  });

  test("sizes, digests and clock times", () => {
    expect(bytes(512)).toBe("512 B");
    expect(bytes(1536)).toBe("1.5 KiB");
    expect(bytes(12n * 1024n * 1024n)).toBe("12.0 MiB");
    expect(shortDigest(`sha256:${"ab".repeat(32)}`)).toBe("abababababab…");
    expect(shortDigest("")).toBe("—");
    const d = new Date("2026-12-04T23:10:05.123Z");
    expect(clock(dateOf(timestampFromDate(d)))).toBe("2026-12-04 23:10:05Z");
  });
});
