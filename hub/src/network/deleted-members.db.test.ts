/** A deleted node leaves its networks before DeleteInstance answers; the sweep catches any left. */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { EVENTS, NetworkService, ProvisionService } from "@powernode/proto";
import { and, eq } from "drizzle-orm";
import { enrollTestNode, operatorClient, startTestHub } from "../../test/harness.ts";
import { fleetEvents, instances, networkMembers } from "../db/schema/index.ts";
import type { RunningHub } from "../hub.ts";
import { forgetDeletedMembersJob } from "./deleted-members.ts";

let hub: RunningHub;
beforeAll(async () => {
  hub = await startTestHub();
}, 30_000);
afterAll(() => hub.stop());

test("DeleteInstance takes the node out of every network it is in", async () => {
  const net = operatorClient(hub, NetworkService);
  const [a, b] = [await enrollTestNode(hub, "dm-a"), await enrollTestNode(hub, "dm-b")];
  for (const name of ["dm-1", "dm-2"]) {
    await net.createNetwork({ name });
    for (const n of [a, b]) await net.joinNetwork({ network: name, nodeId: n?.id ?? "" });
  }
  await operatorClient(hub, ProvisionService).deleteInstance({ id: b?.id ?? "" });
  for (const name of ["dm-1", "dm-2"])
    expect((await net.listMembers({ network: name })).members.map((m) => m.nodeId)).toEqual([a?.id ?? ""]);
  const left = await hub.deps.db
    .select()
    .from(fleetEvents)
    .where(and(eq(fleetEvents.kind, EVENTS.networkMemberLeft.kind), eq(fleetEvents.nodeId, b?.id ?? "")));
  expect(left).toHaveLength(2);
});

test("the sweep removes memberships a deleted node kept", async () => {
  const net = operatorClient(hub, NetworkService);
  const c = await enrollTestNode(hub, "dm-c");
  await net.createNetwork({ name: "dm-3" });
  await net.joinNetwork({ network: "dm-3", nodeId: c.id });
  // Deleted behind the hooks' back (as a hub that crashed between the two would leave it).
  await hub.deps.db.update(instances).set({ state: "deleted" }).where(eq(instances.id, c.id));
  await forgetDeletedMembersJob.run(hub.deps, new AbortController().signal);
  expect(await hub.deps.db.select().from(networkMembers).where(eq(networkMembers.instanceId, c.id))).toEqual(
    [],
  );
});
