import { describe, expect, test } from "bun:test";
import { create, type DescMessage, fromJson, type JsonObject } from "@bufbuild/protobuf";
import { StructSchema, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { CatalogService, FleetService, NodeService } from "@powernode/proto";
import { DomainError } from "../errors.ts";
import { checkInput, formatPath, INPUT_LIMITS } from "./input-rules.ts";

const HeartbeatRequestSchema = NodeService.method.heartbeat.input;
const ReportStatusRequestSchema = NodeService.method.reportStatus.input;
const ListEventsRequestSchema = FleetService.method.listEvents.input;
const CreateModuleRequestSchema = CatalogService.method.createModule.input;

function problem(desc: DescMessage, msg: unknown): string {
  try {
    checkInput(desc, msg);
  } catch (e) {
    if (e instanceof DomainError && e.kind === "invalid_argument") return e.message;
    throw e;
  }
  return "accepted";
}

describe("the edge rule", () => {
  test("a clean request passes, whatever it nests", () => {
    const req = create(ReportStatusRequestSchema, {
      bootId: "b",
      events: [{ kind: "system.network.up", payload: { a: [1, "two", { three: null }], ünï: "cödé ✓" } }],
      conditions: [{ type: "t", ok: true, reason: "r", message: "m", since: timestampFromDate(new Date()) }],
    });
    expect(problem(ReportStatusRequestSchema, req)).toBe("accepted");
  });

  test("NUL, lone surrogates and overlong strings are refused wherever they are, the path named", () => {
    const hb = (v: Partial<{ bootId: string; agentVersion: string; name: string }>) =>
      create(HeartbeatRequestSchema, {
        bootId: v.bootId ?? "b",
        agentVersion: v.agentVersion ?? "",
        modules: [{ name: "ok" }, { name: v.name ?? "ok" }],
      });
    expect(problem(HeartbeatRequestSchema, hb({ bootId: "a\u0000" }))).toBe(
      "boot_id: contains a NUL character",
    );
    expect(problem(HeartbeatRequestSchema, hb({ name: "x\u0000" }))).toBe(
      "modules[1].name: contains a NUL character",
    );
    expect(problem(HeartbeatRequestSchema, hb({ agentVersion: "\ud800" }))).toBe(
      "agent_version: not valid UTF-8 (a lone surrogate)",
    );
    expect(problem(HeartbeatRequestSchema, hb({ agentVersion: "\ud83d\ude00" }))).toBe("accepted");
    expect(
      problem(HeartbeatRequestSchema, hb({ agentVersion: "x".repeat(INPUT_LIMITS.maxStringChars + 1) })),
    ).toBe(`agent_version: longer than ${INPUT_LIMITS.maxStringChars} characters`);
    const mod = create(CreateModuleRequestSchema, { name: "n", description: "d\u0000" });
    expect(problem(CreateModuleRequestSchema, mod)).toBe("description: contains a NUL character");
  });

  test("Struct payloads: strings, keys and depth", () => {
    const report = (payload: JsonObject) =>
      create(ReportStatusRequestSchema, { events: [{ kind: "a.b" }, { kind: "a.b", payload }] });
    expect(problem(ReportStatusRequestSchema, report({ list: ["ok", "n\u0000"] }))).toBe(
      "events[1].payload.list[1]: contains a NUL character",
    );
    expect(problem(ReportStatusRequestSchema, report({ "odd key": { x: "\udc00" } }))).toBe(
      'events[1].payload["odd key"].x: not valid UTF-8 (a lone surrogate)',
    );
    expect(problem(ReportStatusRequestSchema, report({ "k\u0000": 1 }))).toBe(
      "events[1].payload: a key contains a NUL character",
    );
    let deep: JsonObject = {};
    for (let i = 1; i < INPUT_LIMITS.maxStructDepth; i++) deep = { d: deep };
    expect(problem(ReportStatusRequestSchema, report(deep))).toBe("accepted");
    expect(problem(ReportStatusRequestSchema, report({ d: deep }))).toMatch(
      /^events\[1\]\.payload(\.d){32}: nested deeper than 32 levels$/,
    );
    // Arrays count as levels too, and a 100,000-deep value is refused without recursing that far.
    let arrays: unknown = [];
    for (let i = 0; i < 100_000; i++) arrays = [arrays];
    expect(problem(ReportStatusRequestSchema, report({ a: arrays as JsonObject }))).toContain(
      "nested deeper than 32 levels",
    );
  });

  test("a Struct in message form (maps and oneofs) is walked too", () => {
    const s = fromJson(StructSchema, { a: { b: ["x", "y\u0000"] } });
    expect(problem(StructSchema, s)).toBe(
      "fields.a.struct_value.fields.b.list_value.values[1].string_value: contains a NUL character",
    );
    const k = fromJson(StructSchema, { "bad\u0000key": 1 });
    expect(problem(StructSchema, k)).toBe("fields: a key contains a NUL character");
  });

  test("timestamps lie in 0001..9999 with nanos in range", () => {
    const req = (seconds: bigint, nanos = 0) =>
      create(ListEventsRequestSchema, { since: { seconds, nanos } });
    expect(problem(ListEventsRequestSchema, req(1_700_000_000n))).toBe("accepted");
    expect(problem(ListEventsRequestSchema, req(253_402_300_800n))).toBe(
      "since: not a time between 0001-01-01 and 9999-12-31",
    );
    expect(problem(ListEventsRequestSchema, req(-62_135_596_801n))).toBe(
      "since: not a time between 0001-01-01 and 9999-12-31",
    );
    expect(problem(ListEventsRequestSchema, req(0n, 1_000_000_000))).toBe(
      "since: nanos must be 0 to 999999999",
    );
    expect(problem(ListEventsRequestSchema, req(0n, -1))).toBe("since: nanos must be 0 to 999999999");
  });

  test("paths: fields dotted, indexes bracketed, odd keys quoted and cut", () => {
    expect(formatPath([])).toBe("request");
    expect(formatPath(["events", 3, "payload", { key: "plain_key" }])).toBe("events[3].payload.plain_key");
    expect(formatPath(["p", { key: `${"k".repeat(40)}\n` }])).toBe(`p["${"k".repeat(32)}"…]`);
  });
});
