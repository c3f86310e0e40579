import { expect, test } from "bun:test";
import { create } from "@bufbuild/protobuf";
import { MeshPeerSchema, WatchMeshPeersResponseSchema } from "@powernode/proto";
import { applyPeerUpdate } from "./apply-update.ts";

const p = (nodeId: string, publicKey = `${nodeId}-key`) => create(MeshPeerSchema, { nodeId, publicKey });
const msg = (init: Parameters<typeof create<typeof WatchMeshPeersResponseSchema>>[1]) =>
  create(WatchMeshPeersResponseSchema, init);

test("a snapshot replaces the list; deltas upsert and remove by node id; old and empty messages change nothing", () => {
  const snap = applyPeerUpdate(undefined, msg({ version: 5n, snapshot: true, upserts: [p("b"), p("a")] }));
  expect(snap.version).toBe(5n);
  expect(snap.peers.map((x) => x.nodeId)).toEqual(["a", "b"]);
  const added = applyPeerUpdate(snap, msg({ version: 6n, upserts: [p("c"), p("a", "a-new")] }));
  expect(added.peers.map((x) => `${x.nodeId}:${x.publicKey}`)).toEqual(["a:a-new", "b:b-key", "c:c-key"]);
  const removed = applyPeerUpdate(added, msg({ version: 7n, removedNodeIds: ["b"] }));
  expect(removed.peers.map((x) => x.nodeId)).toEqual(["a", "c"]);
  const stale = applyPeerUpdate(removed, msg({ version: 6n, removedNodeIds: ["a"] }));
  expect(stale.peers).toBe(removed.peers);
  const keepalive = applyPeerUpdate(removed, msg({ version: 7n }));
  expect(keepalive.peers).toBe(removed.peers);
  const resnap = applyPeerUpdate(removed, msg({ version: 9n, snapshot: true, upserts: [p("z")] }));
  expect(resnap.peers.map((x) => x.nodeId)).toEqual(["z"]);
});
