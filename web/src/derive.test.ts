import { describe, expect, test } from "bun:test";
import { create, type JsonObject } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { EVENTS, FleetEventSchema } from "@powernode/proto";
import { foldAttestation, latestConditions, phaseTimeline } from "./derive.ts";

let n = 0;
const ev = (kind: string, payload: JsonObject = {}, nodeId = "n1") =>
  create(FleetEventSchema, {
    id: String(++n),
    kind,
    payload,
    nodeId,
    createdAt: timestampFromDate(new Date(Date.UTC(2026, 11, 4, 12, 0, n))),
  });
const phase = (kind: string, uptimeSeconds: number, bootId = "b2") =>
  ev(kind, { uptimeSeconds, bootId, agentAt: "2026-12-04T12:00:00.000Z" });

describe("phaseTimeline", () => {
  test("bars of the newest boot, in phase order, each with its step time; hub-side twins ignored", () => {
    const events = [
      phase(EVENTS.agentStarted.kind, 9, "b1"),
      phase(EVENTS.kernelBooted.kind, 0.1),
      phase(EVENTS.agentStarted.kind, 1.5),
      ev(EVENTS.agentEnrolled.kind, { serial: "x" }), // the hub's own enrolled event: no uptime
      phase(EVENTS.networkUp.kind, 2),
      phase(EVENTS.agentEnrolled.kind, 3.25),
      phase(EVENTS.heartbeatReceived.kind, 4),
      phase(EVENTS.heartbeatReceived.kind, 40),
    ];
    const t = phaseTimeline(events);
    expect(t.bootId).toBe("b2");
    expect(t.bars.map((b) => [b.phase, b.at, b.took])).toEqual([
      ["kernel", 0.1, 0.1],
      ["agent", 1.5, 1.4],
      ["network", 2, 0.5],
      ["enrolled", 3.25, 1.25],
      ["ready", 4, 0.75],
    ]);
    expect(phaseTimeline(events, "b1").bars.map((b) => b.phase)).toEqual(["agent"]);
    expect(phaseTimeline([]).bars).toEqual([]);
  });
});

describe("foldAttestation", () => {
  test("the latest attestation-related event per node wins", () => {
    const m = foldAttestation(new Map(), [
      ev(EVENTS.attestationRequested.kind, {}, "a"),
      ev(EVENTS.attestationVerified.kind, {}, "a"),
      ev(EVENTS.moduleDrift.kind, {}, "b"),
      ev(EVENTS.heartbeatReceived.kind, {}, "c"),
    ]);
    expect(m.get("a")?.status).toBe("verified");
    expect(m.get("b")?.status).toBe("drift");
    expect(m.has("c")).toBe(false);
    const older = ev(EVENTS.attestationFailed.kind, {}, "a");
    older.createdAt = timestampFromDate(new Date(Date.UTC(2020, 0, 1)));
    foldAttestation(m, [older]);
    expect(m.get("a")?.status).toBe("verified");
  });
});

describe("latestConditions", () => {
  test("the newest report's conditions; malformed entries skipped", () => {
    const r = latestConditions([
      ev(EVENTS.agentConditions.kind, { conditions: [{ type: "old", ok: true }] }),
      ev(EVENTS.agentConditions.kind, {
        conditions: [{ type: "modules", ok: false, reason: "VerityFailed", message: "root hash" }, "junk"],
      }),
    ]);
    expect(r.conditions).toEqual([
      { type: "modules", ok: false, reason: "VerityFailed", message: "root hash", since: undefined },
    ]);
    expect(latestConditions([]).conditions).toEqual([]);
  });
});
