/**
 * One node's input never fails another's call, and nodes cannot speak for the hub (issue 23, B and C):
 * out-of-range and NUL heartbeat values are refused for the one node that sent them while five others
 * heartbeat through the same batched writer; node-reported kinds outside the catalog's agent kinds
 * are stored under `node.*`; /metrics labels stay in the catalog; payloads and events per call are
 * bounded.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { JsonObject } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { FleetService, type HeartbeatRequest, Severity } from "@powernode/proto";
import { type EnrolledTestNode, enrollTestNode, operatorClient, startTestHub } from "../../test/harness.ts";
import type { RunningHub } from "../hub.ts";

let hub: RunningHub;
beforeAll(async () => {
  hub = await startTestHub();
}, 30_000);
afterAll(async () => {
  await hub.stop();
});

const refusal = (e: unknown) => {
  const ce = ConnectError.from(e);
  return { code: Code[ce.code], message: ce.rawMessage };
};

describe("Heartbeat: one bad node among good ones", () => {
  test("out-of-range and NUL values: the five honest nodes all succeed, the one gets invalid_argument naming the field", async () => {
    const honest: EnrolledTestNode[] = [];
    for (let i = 0; i < 5; i++) honest.push(await enrollTestNode(hub, `honest-${i}`));
    const attacker = await enrollTestNode(hub, "attacker");
    const good = { bootId: "boot-1", agentVersion: "1.0", appliedVersion: 0n, uptimeSeconds: 5 };
    const attacks: [Partial<Omit<HeartbeatRequest, "$typeName">>, string][] = [
      [{ zombieCount: 4_294_967_295 }, "zombie_count: must be 0 to 2147483647"],
      [{ childrenSpawned: 2_147_483_648 }, "children_spawned: must be 0 to 2147483647"],
      [{ appliedVersion: 18_446_744_073_709_551_615n }, "applied_version: must be 0 to 9007199254740991"],
      [{ agentRssBytes: 9_223_372_036_854_775_808n }, "agent_rss_bytes: must be 0 to 9007199254740991"],
      [{ bootId: "boot\u0000" }, "boot_id: contains a NUL character"],
      [{ agentVersion: "1.0\u0000evil" }, "agent_version: contains a NUL character"],
      [{ uptimeSeconds: Number.NaN }, "uptime_seconds: must be a finite number from 0 to 100000000000"],
      [{ uptimeSeconds: -1 }, "uptime_seconds: must be a finite number from 0 to 100000000000"],
    ];
    for (const [bad, message] of attacks) {
      // All six in flight at once: they meet in the writer's queue.
      const [evil, ...rest] = await Promise.allSettled([
        attacker.client.heartbeat({ ...good, ...bad }),
        ...honest.map((n) => n.client.heartbeat(good)),
      ]);
      expect(rest.map((r) => r.status)).toEqual([
        "fulfilled",
        "fulfilled",
        "fulfilled",
        "fulfilled",
        "fulfilled",
      ]);
      expect(evil?.status).toBe("rejected");
      if (evil?.status === "rejected")
        expect(refusal(evil.reason)).toEqual({ code: "InvalidArgument", message });
    }
    // The attacker's own good heartbeat still works, and nothing of the bad ones was stored.
    await attacker.client.heartbeat(good);
    const node = (await operatorClient(hub, FleetService).getNode({ id: attacker.id })).node;
    expect([node?.bootId, node?.zombieCount, node?.appliedVersion]).toEqual(["boot-1", 0, 0n]);
  });

  test("the largest values that fit are stored as sent", async () => {
    const n = await enrollTestNode(hub, "edge-values");
    await n.client.heartbeat({
      bootId: "b".repeat(128),
      agentVersion: "v".repeat(128),
      zombieCount: 2_147_483_647,
      childrenSpawned: 2_147_483_647,
      appliedVersion: 9_007_199_254_740_991n,
      agentRssBytes: 9_007_199_254_740_991n,
      uptimeSeconds: 1e9,
    });
    const node = (await operatorClient(hub, FleetService).getNode({ id: n.id })).node;
    expect([node?.zombieCount, node?.childrenSpawned, node?.agentRssBytes, node?.appliedVersion]).toEqual([
      2_147_483_647,
      2_147_483_647,
      9_007_199_254_740_991n,
      9_007_199_254_740_991n,
    ]);
  });
});

describe("ReportStatus: node kinds, payloads, limits", () => {
  test("the hub's own kinds and unknown kinds are stored under node.*, info; the catalog's agent kinds keep theirs", async () => {
    const n = await enrollTestNode(hub, "kinds");
    await n.client.reportStatus({
      bootId: "kb",
      events: [
        { kind: "system.instance.deleted" },
        { kind: "system.attestation.verified" },
        { kind: "system.attestation.failed" },
        { kind: "system.made_up.thing" },
        { kind: "custom.thing" },
        { kind: "node.already.namespaced" },
        { kind: "system.module_verify_failed", payload: { module: "m" } },
        { kind: "system.heartbeat.received" },
      ],
    });
    const events = (await operatorClient(hub, FleetService).listEvents({ nodeId: n.id, correlationId: "kb" }))
      .events;
    expect(events.map((e) => [e.kind, Severity[e.severity]])).toEqual([
      ["node.system.instance.deleted", "INFO"],
      ["node.system.attestation.verified", "INFO"],
      ["node.system.attestation.failed", "INFO"],
      ["node.system.made_up.thing", "INFO"],
      ["node.custom.thing", "INFO"],
      ["node.already.namespaced", "INFO"],
      ["system.module_verify_failed", "CRITICAL"],
      ["system.heartbeat.received", "INFO"],
    ]);
    // Nothing the node sent is under system.* but the agent kinds.
    const system = await operatorClient(hub, FleetService).listEvents({
      nodeId: n.id,
      kindPrefix: "system.attestation.",
    });
    expect(system.events).toEqual([]);
  });

  test("10,000 distinct node kinds leave /metrics under 1,000 series", async () => {
    const nodes = [];
    for (let i = 0; i < 4; i++) nodes.push(await enrollTestNode(hub, `kinds-flood-${i}`));
    const started = performance.now();
    for (let call = 0; call < 100; call++) {
      const node = nodes[call % nodes.length] as EnrolledTestNode;
      await node.client.reportStatus({
        bootId: `flood-${call}`,
        events: Array.from({ length: 100 }, (_, i) => ({ kind: `flood.kind_${call}_${i}` })),
      });
    }
    console.log(`100 ReportStatus calls of 100 new kinds: ${Math.round(performance.now() - started)} ms`);
    const res = await fetch(`${hub.httpUrl}/metrics`, {
      headers: { authorization: `Bearer ${hub.adminToken}` },
    });
    expect(res.status).toBe(200);
    const text = await res.text();
    const series = text.split("\n").filter((l) => l !== "" && !l.startsWith("#"));
    console.log(`/metrics after 10,000 node kinds: ${series.length} series, ${text.length} bytes`);
    expect(series.length).toBeLessThan(1000);
    expect(text).not.toContain("flood.kind_");
    expect(text).toContain('powernode_events_total{kind="other",severity="info"}');
  }, 60_000);

  test("payload bytes, events per call, NUL, depth and times are checked at the edge, naming the field", async () => {
    const n = await enrollTestNode(hub, "limits");
    const call = (
      events: { kind: string; payload?: JsonObject; at?: ReturnType<typeof timestampFromDate> }[],
    ) =>
      n.client.reportStatus({ bootId: "lb", events }).then(
        () => ({ code: "OK", message: "" }),
        (e) => refusal(e),
      );
    const kind = "system.network.up";
    expect(await call([{ kind, payload: { blob: "x".repeat(60_000) } }])).toEqual({
      code: "OK",
      message: "",
    });
    expect(
      await call([{ kind }, { kind, payload: { a: "x".repeat(40_000), b: "y".repeat(40_000) } }]),
    ).toEqual({
      code: "ResourceExhausted",
      message: "events[1].payload: 80015 bytes of JSON, at most 65536",
    });
    expect(await call(Array.from({ length: 101 }, () => ({ kind })))).toEqual({
      code: "ResourceExhausted",
      message: "events: more than 100 in one call",
    });
    expect(await call([{ kind, payload: { note: "a\u0000b" } }])).toEqual({
      code: "InvalidArgument",
      message: "events[0].payload.note: contains a NUL character",
    });
    expect(await call([{ kind, payload: { "k\u0000": 1 } }])).toEqual({
      code: "InvalidArgument",
      message: "events[0].payload: a key contains a NUL character",
    });
    let deep: JsonObject = {};
    for (let i = 0; i < 40; i++) deep = { d: deep };
    expect((await call([{ kind, payload: deep }])).message).toMatch(
      /^events\[0\]\.payload(\.d)+: nested deeper than 32 levels$/,
    );
    const at = timestampFromDate(new Date());
    at.seconds = 9_999_999_999_999n;
    expect(await call([{ kind, at }])).toEqual({
      code: "InvalidArgument",
      message: "events[0].at: not a time between 0001-01-01 and 9999-12-31",
    });
    // None of the refused calls stored anything.
    const stored = await operatorClient(hub, FleetService).listEvents({ nodeId: n.id, correlationId: "lb" });
    expect(stored.events).toHaveLength(1);
  });
});
