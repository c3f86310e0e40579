import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { FleetService, NodeState, Severity } from "@powernode/proto";
import {
  assignTestModules,
  enrollTestNode,
  makeCsr,
  operatorClient,
  startTestHub,
} from "../../test/harness.ts";
import type { RunningHub } from "../hub.ts";

let hub: RunningHub;
beforeAll(async () => {
  hub = await startTestHub({ heartbeatSeconds: 7 });
}, 30_000);
afterAll(async () => {
  await hub.stop();
});

describe("Heartbeat", () => {
  test("first heartbeat moves pending -> running and writes system.heartbeat.received once per boot", async () => {
    const n = await enrollTestNode(hub, "hb-1");
    const fleet = operatorClient(hub, FleetService);
    expect((await fleet.getNode({ id: n.id })).node?.state).toBe(NodeState.PENDING);

    const r1 = await n.client.heartbeat({
      bootId: "boot-a",
      agentVersion: "1.0",
      appliedVersion: 0n,
      uptimeSeconds: 3,
    });
    expect(r1.nextHeartbeatSeconds).toBe(7);
    expect(r1.desiredVersion).toBe(0n);
    await n.client.heartbeat({
      bootId: "boot-a",
      agentVersion: "1.0",
      appliedVersion: 0n,
      uptimeSeconds: 13,
    });
    await n.client.heartbeat({
      bootId: "boot-a",
      agentVersion: "1.0",
      appliedVersion: 0n,
      uptimeSeconds: 23,
    });

    const node = (await fleet.getNode({ id: n.id })).node;
    expect(node?.state).toBe(NodeState.RUNNING);
    expect(node?.bootId).toBe("boot-a");
    expect(node?.agentVersion).toBe("1.0");
    expect(node?.certificateSerial).toMatch(/^[0-9a-f]+$/);
    let received = await fleet.listEvents({ nodeId: n.id, kindPrefix: "system.heartbeat.received" });
    expect(received.events.map((e) => e.correlationId)).toEqual(["boot-a"]);

    // A reboot: new boot id -> one more event.
    await n.client.heartbeat({ bootId: "boot-b", agentVersion: "1.1", appliedVersion: 0n, uptimeSeconds: 1 });
    await n.client.heartbeat({
      bootId: "boot-b",
      agentVersion: "1.1",
      appliedVersion: 0n,
      uptimeSeconds: 11,
    });
    received = await fleet.listEvents({ nodeId: n.id, kindPrefix: "system.heartbeat.received" });
    expect(received.events.map((e) => e.correlationId)).toEqual(["boot-a", "boot-b"]);
    const running = await fleet.listEvents({ nodeId: n.id, kindPrefix: "system.instance.running" });
    expect(running.events).toHaveLength(1);
    // Batched writes are persisted before the ack: the stored uptime is the last one sent.
    await hub.deps.heartbeats.drain();
    expect((await fleet.getNode({ id: n.id })).node?.agentVersion).toBe("1.1");
  });

  test("the last heartbeat's observations are on the node (zombies, agent RSS, children, uptime)", async () => {
    const n = await enrollTestNode(hub, "hb-obs");
    const fleet = operatorClient(hub, FleetService);
    await n.client.heartbeat({
      bootId: "boot-o",
      uptimeSeconds: 42.5,
      zombieCount: 2,
      agentRssBytes: 61_000_000n,
      childrenSpawned: 5,
    });
    const node = (await fleet.getNode({ id: n.id })).node;
    expect({
      zombies: node?.zombieCount,
      rss: node?.agentRssBytes,
      children: node?.childrenSpawned,
      uptime: node?.uptimeSeconds,
    }).toEqual({ zombies: 2, rss: 61_000_000n, children: 5, uptime: 42.5 });
  });

  test("boot_id is required", async () => {
    const n = await enrollTestNode(hub, "hb-2");
    const err = await n.client.heartbeat({ bootId: "" }).catch((e) => ConnectError.from(e));
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).code).toBe(Code.InvalidArgument);
    expect((err as ConnectError).rawMessage).toBe("boot_id: required");
  });
});

describe("WatchDesiredState", () => {
  test("sends the current document at once, then each new version", async () => {
    const n = await enrollTestNode(hub, "ds-1");
    const ac = new AbortController();
    const stream = n.client.watchDesiredState({ knownVersion: 0n }, { signal: ac.signal });
    const it = stream[Symbol.asyncIterator]();
    const first = await it.next();
    expect(first.value?.state?.version).toBe(0n);
    expect(first.value?.state?.heartbeatIntervalSeconds).toBe(7);

    const v = await assignTestModules(hub, n.id, [
      {
        name: "base",
        version: "1",
        priority: 10,
        metadataDigest: "a".repeat(64),
        verityRootHash: "b".repeat(64),
      },
    ]);
    expect(v).toBe(1);
    const second = await it.next();
    expect(second.value?.state?.version).toBe(1n);
    expect(second.value?.state?.modules?.assignments.map((m: { name: string }) => m.name)).toEqual(["base"]);
    // Every section is present, empty where its area assigns nothing.
    expect(second.value?.state?.network).toBeDefined();
    expect(second.value?.state?.debug?.tamper).toEqual([]);
    ac.abort();
    await it.return?.();

    // Heartbeat now reports the desired version.
    const hb = await n.client.heartbeat({ bootId: "x" });
    expect(hb.desiredVersion).toBe(1n);
  });
});

describe("ReportStatus", () => {
  test("phase events become fleet events with node id, boot id correlation and the agent's timestamps", async () => {
    const n = await enrollTestNode(hub, "rs-1");
    const at = new Date("2026-01-02T03:04:05.678Z");
    const res = await n.client.reportStatus({
      bootId: "boot-z",
      events: [
        {
          kind: "system.kernel.booted",
          at: timestampFromDate(at),
          uptimeSeconds: 1.25,
          payload: { kernel: "6.1" },
        },
        { kind: "system.network.up", at: timestampFromDate(at), uptimeSeconds: 2.5 },
      ],
      conditions: [{ type: "mounts", ok: false, reason: "VerityFailed", message: "root hash mismatch" }],
    });
    expect(res.acceptedEvents).toBe(2);
    const fleet = operatorClient(hub, FleetService);
    const events = (await fleet.listEvents({ nodeId: n.id, correlationId: "boot-z" })).events;
    expect(events.map((e) => e.kind)).toEqual([
      "system.kernel.booted",
      "system.network.up",
      "system.agent.conditions",
    ]);
    expect(events[0]?.payload).toEqual({
      kernel: "6.1",
      agentAt: at.toISOString(),
      uptimeSeconds: 1.25,
      bootId: "boot-z",
    });

    const bad = await n.client
      .reportStatus({ bootId: "b", events: [{ kind: "Not A Kind" }] })
      .catch((e) => ConnectError.from(e));
    expect((bad as ConnectError).code).toBe(Code.InvalidArgument);
    expect((bad as ConnectError).rawMessage).toContain("events[0].kind");
  });

  test("a module verification failure reported by the agent is a critical event", async () => {
    const n = await enrollTestNode(hub, "rs-2");
    await n.client.reportStatus({
      bootId: "boot-v",
      events: [
        {
          kind: "system.module_verify_failed",
          uptimeSeconds: 9,
          payload: { module: "nginx-light", expected: "aa", actual: "bb" },
        },
      ],
    });
    const fleet = operatorClient(hub, FleetService);
    const critical = await fleet.listEvents({ nodeId: n.id, minSeverity: Severity.CRITICAL });
    expect(critical.events.map((e) => [e.kind, e.payload?.module])).toEqual([
      ["system.module_verify_failed", "nginx-light"],
    ]);
  });
});

describe("RenewCertificate", () => {
  // The window, rotation and limits are tested in renewal.db.test.ts.
  test("a fresh certificate is refused (outside the window); a CSR for another CN is checked first", async () => {
    const n = await enrollTestNode(hub, "renew-1");
    const csr = await makeCsr(n.id);
    const early = await n.client.renewCertificate({ csrPem: csr.csrPem }).catch((e) => ConnectError.from(e));
    expect((early as ConnectError).code).toBe(Code.FailedPrecondition);
    const other = await makeCsr("11111111-1111-1111-1111-111111111111");
    const err = await n.client.renewCertificate({ csrPem: other.csrPem }).catch((e) => ConnectError.from(e));
    expect((err as ConnectError).code).toBe(Code.InvalidArgument);
  });
});
