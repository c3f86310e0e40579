import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { FleetService, NodeState } from "@powernode/proto";
import { assignTestModules, enrollTestNode, operatorClient, startTestHub } from "../../test/harness.ts";
import type { RunningHub } from "../hub.ts";
import { compareObservations } from "./attestation-check.ts";

const A = "a".repeat(64);
const B = "b".repeat(64);
const T = "f".repeat(64);

let hub: RunningHub;
beforeAll(async () => {
  hub = await startTestHub();
}, 30_000);
afterAll(async () => {
  await hub.stop();
});

describe("compareObservations", () => {
  const assigned = [{ name: "base", version: "1", metadataDigest: A, verityRootHash: B }];
  test("matching, pending and unassigned modules are not drift", () => {
    expect(
      compareObservations(assigned, [
        { name: "base", version: "1", metadataDigest: A.toUpperCase(), verityRootHash: B, state: "mounted" },
        { name: "base", version: "1", metadataDigest: "", verityRootHash: "", state: "pending" },
        { name: "extra", version: "9", metadataDigest: T, verityRootHash: T, state: "mounted" },
      ]),
    ).toEqual([]);
  });
  test("a different digest, root hash or version is drift", () => {
    expect(
      compareObservations(assigned, [
        { name: "base", version: "1", metadataDigest: T, verityRootHash: T, state: "mounted" },
      ]),
    ).toEqual([
      { module: "base", version: "1", field: "metadata_digest", expected: A, observed: T },
      { module: "base", version: "1", field: "verity_root_hash", expected: B, observed: T },
    ]);
    expect(
      compareObservations(assigned, [
        { name: "base", version: "2", metadataDigest: A, verityRootHash: B, state: "mounted" },
      ]),
    ).toEqual([{ module: "base", version: "2", field: "version", expected: "1", observed: "2" }]);
  });
  test("a module of the assigned version that failed (dm-verity saw a bad block) is drift", () => {
    expect(
      compareObservations(assigned, [
        {
          name: "base",
          version: "1",
          metadataDigest: A,
          verityRootHash: B,
          state: "failed",
          message: "dm-verity detected corruption on pn-base",
        },
      ]),
    ).toEqual([
      {
        module: "base",
        version: "1",
        field: "state",
        expected: "mounted",
        observed: "failed: dm-verity detected corruption on pn-base",
      },
    ]);
  });
});

describe("attestation through Heartbeat", () => {
  test("a tampered digest is system.module_drift (critical) and degrades the node until it matches again", async () => {
    const n = await enrollTestNode(hub, "attest-1");
    await assignTestModules(hub, n.id, [
      { name: "base", version: "1", metadataDigest: A, verityRootHash: B },
    ]);
    const fleet = operatorClient(hub, FleetService);
    const obs = (digest: string) => [
      { name: "base", version: "1", metadataDigest: digest, verityRootHash: B, state: "mounted" },
    ];

    await n.client.heartbeat({ bootId: "b1", modules: obs(A) });
    expect((await fleet.getNode({ id: n.id })).node?.state).toBe(NodeState.RUNNING);

    await n.client.heartbeat({ bootId: "b1", modules: obs(T) });
    await n.client.heartbeat({ bootId: "b1", modules: obs(T) }); // same report: not examined again
    expect((await fleet.getNode({ id: n.id })).node?.state).toBe(NodeState.DEGRADED);
    const drift = (await fleet.listEvents({ nodeId: n.id, kindPrefix: "system.module_drift" })).events;
    expect(drift).toHaveLength(1);
    expect(drift[0]?.payload).toMatchObject({
      module: "base",
      field: "metadata_digest",
      expected: A,
      observed: T,
      bootId: "b1",
    });

    await n.client.heartbeat({ bootId: "b1", modules: obs(A) });
    expect((await fleet.getNode({ id: n.id })).node?.state).toBe(NodeState.RUNNING);
    const kinds = (await fleet.listEvents({ nodeId: n.id, kindPrefix: "system.instance." })).events.map(
      (e) => e.kind,
    );
    expect(kinds).toEqual([
      "system.instance.provisioned",
      "system.instance.running",
      "system.instance.degraded",
      "system.instance.recovered",
    ]);
  });
});
