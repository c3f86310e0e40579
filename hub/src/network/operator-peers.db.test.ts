/**
 * Operator peers over the real API: an operator's key joins a network (its own /128, a credential
 * naming the member id), the nodes' peer lists carry it, its response carries the nodes, a re-join
 * with a new key keeps the address, bad input names the field, leaving removes it from peer lists.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { generateKeyPairSync } from "node:crypto";
import { Code, type ConnectError, createClient } from "@connectrpc/connect";
import { MeshSyncService, NetworkService } from "@powernode/proto";
import { enrollTestNode, nodeTransport, operatorClient, startTestHub } from "../../test/harness.ts";
import type { RunningHub } from "../hub.ts";

let hub: RunningHub;
beforeAll(async () => {
  hub = await startTestHub();
}, 30_000);
afterAll(async () => {
  await hub.stop();
});

const wgPublicKey = () =>
  Buffer.from(
    generateKeyPairSync("x25519").publicKey.export({ format: "jwk" }).x ?? "",
    "base64url",
  ).toString("base64");

async function firstSnapshot(node: { certPem: string; keyPem: string }, networkId: string) {
  const ac = new AbortController();
  const mesh = createClient(MeshSyncService, nodeTransport(hub, node));
  for await (const msg of mesh.watchMeshPeers({ networkId }, { signal: ac.signal })) {
    ac.abort();
    return msg;
  }
  throw new Error("stream ended without a snapshot");
}

describe("operator peers", () => {
  test("join, seen by nodes, re-join, leave", async () => {
    const net = operatorClient(hub, NetworkService);
    const created = await net.createNetwork({ name: "ops-net" });
    const networkId = created.network?.id ?? "";
    const node = await enrollTestNode(hub, "ops-node");
    await net.joinNetwork({ network: "ops-net", nodeId: node.id });
    await node.client.heartbeat({
      bootId: "b",
      agentVersion: "test",
      meshes: [{ networkId, publicKey: wgPublicKey(), listenPort: 51820, endpoints: ["10.0.0.5:51820"] }],
    });

    const key = wgPublicKey();
    const joined = await net.joinOperatorPeer({ network: "ops-net", name: "laptop", publicKey: key });
    const address = joined.member?.address ?? "";
    expect(joined.member?.nodeName).toBe("laptop");
    expect(joined.membership?.prefix).toBe(created.network?.prefix ?? "");
    expect(joined.peers.map((p) => p.nodeId)).toEqual([node.id]);
    expect(joined.peers[0]?.endpoints).toEqual(["10.0.0.5:51820"]);

    const snap = await firstSnapshot(node, networkId);
    const seen = snap.upserts.find((p) => p.publicKey === key);
    expect(seen?.address).toBe(address);
    expect(JSON.parse(seen?.credential?.envelope ?? "{}").sub).toBe(seen?.nodeId ?? "");
    expect((await net.listMembers({ network: "ops-net" })).members.map((m) => m.nodeName).sort()).toEqual([
      "laptop",
      "ops-node",
    ]);

    const key2 = wgPublicKey();
    const again = await net.joinOperatorPeer({ network: "ops-net", name: "laptop", publicKey: key2 });
    expect(again.member?.address).toBe(address);
    expect((await firstSnapshot(node, networkId)).upserts.map((p) => p.publicKey)).toContain(key2);

    for (const [req, field] of [
      [{ network: "ops-net", name: "laptop", publicKey: "nope" }, "public_key"],
      [{ network: "ops-net", name: "Bad Name", publicKey: key }, "name"],
      [{ network: "ops-net", name: "laptop", publicKey: key, endpoints: ["nohost"] }, "endpoints[0]"],
    ] as const) {
      const err = await net
        .joinOperatorPeer({ ...req, endpoints: [...("endpoints" in req ? req.endpoints : [])] })
        .then(
          () => undefined,
          (e) => e as ConnectError,
        );
      expect(err?.code).toBe(Code.InvalidArgument);
      expect(err?.rawMessage).toContain(field);
    }

    await net.leaveOperatorPeer({ network: "ops-net", name: "laptop" });
    expect((await firstSnapshot(node, networkId)).upserts.map((p) => p.publicKey)).not.toContain(key2);
    const gone = await net.leaveOperatorPeer({ network: "ops-net", name: "laptop" }).then(
      () => undefined,
      (e) => e as ConnectError,
    );
    expect(gone?.code).toBe(Code.NotFound);
  });
});
