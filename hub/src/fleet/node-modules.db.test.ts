import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { FleetService } from "@powernode/proto";
import { assignTestModules, enrollTestNode, operatorClient, startTestHub } from "../../test/harness.ts";
import type { RunningHub } from "../hub.ts";

const A = "a".repeat(64);
const B = "b".repeat(64);
const C = "c".repeat(64);

let hub: RunningHub;
beforeAll(async () => {
  hub = await startTestHub();
}, 30_000);
afterAll(async () => {
  await hub.stop();
});

describe("FleetService.GetNodeModules", () => {
  test("assignments with digests, then the heartbeat's observations and the verdict", async () => {
    const n = await enrollTestNode(hub, "node-modules-1");
    const version = await assignTestModules(hub, n.id, [
      { name: "base", version: "1", metadataDigest: A, verityRootHash: B, priority: 10 },
      { name: "web", version: "2", metadataDigest: C, verityRootHash: C },
    ]);
    const fleet = operatorClient(hub, FleetService);

    const before = await fleet.getNodeModules({ nodeId: n.id });
    expect(Number(before.desiredVersion)).toBe(version);
    expect(before.observedAt).toBeUndefined();
    expect(before.modules.map((m) => [m.assignment?.name, m.assignment?.metadataDigest, m.verified])).toEqual(
      expect.arrayContaining([
        ["base", A, false],
        ["web", C, false],
      ]),
    );
    expect(before.modules.every((m) => m.observed === undefined)).toBe(true);

    await n.client.heartbeat({
      bootId: "b1",
      modules: [
        { name: "base", version: "1", metadataDigest: A, verityRootHash: B, state: "mounted" },
        {
          name: "web",
          version: "2",
          metadataDigest: "",
          verityRootHash: "",
          state: "pending",
          message: "fetching",
        },
      ],
    });
    const after = await fleet.getNodeModules({ nodeId: n.id });
    expect(after.observedAt).toBeDefined();
    const byName = new Map(after.modules.map((m) => [m.assignment?.name, m]));
    expect(byName.get("base")?.verified).toBe(true);
    expect(byName.get("base")?.observed?.state).toBe("mounted");
    expect(byName.get("web")?.verified).toBe(false);
    expect(byName.get("web")?.observed).toMatchObject({ state: "pending", message: "fetching" });
  });

  test("bad and unknown node ids are refused naming the field", async () => {
    const fleet = operatorClient(hub, FleetService);
    const bad = await fleet.getNodeModules({ nodeId: "nope" }).catch((e) => ConnectError.from(e));
    expect((bad as ConnectError).code).toBe(Code.InvalidArgument);
    expect((bad as ConnectError).rawMessage).toMatch(/^node_id: /);
    const unknown = await fleet
      .getNodeModules({ nodeId: "00000000-0000-4000-8000-0000000000ee" })
      .catch((e) => ConnectError.from(e));
    expect((unknown as ConnectError).code).toBe(Code.NotFound);
  });
});
