/**
 * The hub side of the mesh over the real API: networks and members (NetworkService), keys and
 * endpoints from heartbeats, credentials, and peer lists on WatchMeshPeers as a snapshot then one
 * small message per change.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { generateKeyPairSync } from "node:crypto";
import { toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import {
  MeshSyncService,
  MeshTopology,
  NetworkService,
  StorageService,
  StorageShape,
  verifyCredential,
  type WatchMeshPeersResponse,
  WatchMeshPeersResponseSchema,
} from "@powernode/proto";
import { sql } from "drizzle-orm";
import {
  type EnrolledTestNode,
  enrollTestNode,
  nodeTransport,
  operatorClient,
  startTestHub,
  testDbKind,
  waitFor,
} from "../../test/harness.ts";
import { rowsOf } from "../db/client.ts";
import { getDesiredState } from "../desired-state/index.ts";
import type { RunningHub } from "../hub.ts";

let hub: RunningHub;
beforeAll(async () => {
  hub = await startTestHub();
}, 30_000);
afterAll(async () => {
  await hub.stop();
});

function wgKey() {
  const { privateKey, publicKey } = generateKeyPairSync("x25519");
  const b64 = (s: string | undefined) => Buffer.from(s ?? "", "base64url").toString("base64");
  return {
    privateKey: b64(privateKey.export({ format: "jwk" }).d),
    publicKey: b64(publicKey.export({ format: "jwk" }).x),
  };
}

interface MeshNode extends EnrolledTestNode {
  key: { privateKey: string; publicKey: string };
  endpoint: string;
}

async function report(n: MeshNode, networkId: string, listenPort = 51820) {
  await n.client.heartbeat({
    bootId: "b",
    agentVersion: "test",
    meshes: [{ networkId, publicKey: n.key.publicKey, listenPort, endpoints: [n.endpoint] }],
  });
}

/** Collects a node's WatchMeshPeers messages until stopped. */
function watchPeers(n: EnrolledTestNode, networkId: string) {
  const stop = new AbortController();
  const messages: WatchMeshPeersResponse[] = [];
  const client = createClient(MeshSyncService, nodeTransport(hub, n));
  const done = (async () => {
    try {
      for await (const m of client.watchMeshPeers({ networkId }, { signal: stop.signal })) messages.push(m);
    } catch (e) {
      if (!stop.signal.aborted) throw e;
    }
  })();
  return {
    messages,
    nth: (i: number) => waitFor(`message ${i} on ${n.id}'s peer stream`, () => messages[i], 10_000),
    async stop() {
      stop.abort();
      await done;
    },
  };
}

describe(`mesh: networks, credentials and peer streams (${testDbKind})`, () => {
  const ops = () => operatorClient(hub, NetworkService);
  let networkId = "";
  let publicKey = "";
  let handle = "";
  const nodes: MeshNode[] = [];

  test("CreateNetwork: defaults, and bad input named by field", async () => {
    const { network } = await ops().createNetwork({ name: "lab-mesh" });
    expect(network?.prefix).toMatch(/^fd[0-9a-f]{2}:[0-9a-f]{1,4}:[0-9a-f]{1,4}:[0-9a-f]{1,4}::\/64$/);
    expect(network?.handle).toMatch(/^[0-9a-f]{6}$/);
    expect(network?.listenPort).toBe(51820);
    expect(network?.topology).toBe(MeshTopology.FULL_MESH);
    expect(network?.constellationPublicKey).toMatch(/^[A-Za-z0-9+/]{43}=$/);
    networkId = network?.id ?? "";
    publicKey = network?.constellationPublicKey ?? "";
    handle = network?.handle ?? "";
    const bad = async (
      req: Parameters<ReturnType<typeof ops>["createNetwork"]>[0],
      code: Code,
      field: RegExp,
    ) => {
      const e = await ops()
        .createNetwork(req)
        .then(() => undefined, ConnectError.from);
      expect(e?.code).toBe(code);
      expect(e?.rawMessage).toMatch(field);
    };
    await bad({ name: "lab-mesh" }, Code.AlreadyExists, /^name: /);
    await bad({ name: "x", prefix: "2001:db8::/64" }, Code.InvalidArgument, /^prefix: .*unique local/);
    await bad({ name: "Bad Name" }, Code.InvalidArgument, /^name: /);
    await bad({ name: "y", listenPort: 70000 }, Code.InvalidArgument, /^listen_port: /);
  });

  test("JoinNetwork: a stable /128 per node, in the node's desired state", async () => {
    for (const name of ["mesh-a", "mesh-b", "mesh-c"]) {
      const n = await enrollTestNode(hub, name);
      nodes.push({ ...n, key: wgKey(), endpoint: `10.203.9.${nodes.length + 10}:51820` });
    }
    const addresses = new Set<string>();
    for (const n of nodes) {
      const { member } = await ops().joinNetwork({ network: "lab-mesh", nodeId: n.id });
      addresses.add(member?.address ?? "");
      const again = await ops().joinNetwork({ network: networkId, nodeId: n.id });
      expect(again.member?.address).toBe(member?.address ?? "-");
      expect(member?.credentialStatus).toBe("none");
      const state = await getDesiredState(hub.deps.db, n.id);
      expect(state.network?.meshes).toHaveLength(1);
      expect(state.network?.meshes[0]).toMatchObject({
        networkId,
        interfaceName: `wg-sdwan-${handle}`,
        address: member?.address,
        listenPort: 51820,
        constellationPublicKey: publicKey,
      });
    }
    expect(addresses.size).toBe(3);
  });

  test("a reported key gets an active credential; peers stream as a snapshot with verifiable credentials", async () => {
    for (const n of nodes) await report(n, networkId);
    const { members } = await ops().listMembers({ network: networkId });
    expect(members.map((m) => m.credentialStatus)).toEqual(["active", "active", "active"]);
    const [a] = nodes as [MeshNode];
    const w = watchPeers(a, networkId);
    const snap = await w.nth(0);
    expect(snap.snapshot).toBe(true);
    expect(snap.upserts.map((p) => p.nodeId).sort()).toEqual(
      nodes
        .slice(1)
        .map((n) => n.id)
        .sort(),
    );
    for (const p of snap.upserts) {
      expect(p.allowedIps).toEqual([`${p.address}/128`]);
      expect(p.persistentKeepaliveSeconds).toBe(25);
      const v = verifyCredential(p.credential as NonNullable<typeof p.credential>, publicKey, {
        now: new Date(),
        expect: { publicKey: p.publicKey, address: p.address, aud: `net-${handle}`, sub: p.nodeId },
      });
      expect(v.ok).toBe(true);
    }
    await w.stop();
  });

  test("a node joining is one small upsert per existing member; revoke is a removal; reissue brings it back", async () => {
    const [a, b] = nodes as [MeshNode, MeshNode];
    const wa = watchPeers(a, networkId);
    const wb = watchPeers(b, networkId);
    const snap = await wa.nth(0);
    await wb.nth(0);
    const d = { ...(await enrollTestNode(hub, "mesh-d")), key: wgKey(), endpoint: "10.203.9.40:51820" };
    await ops().joinNetwork({ network: networkId, nodeId: d.id });
    await report(d, networkId);
    const up = await wa.nth(1);
    expect(up.snapshot).toBe(false);
    expect(up.version).toBe(snap.version + 1n);
    expect(up.upserts.map((p) => p.nodeId)).toEqual([d.id]);
    expect(up.removedNodeIds).toEqual([]);
    expect((await wb.nth(1)).upserts.map((p) => p.nodeId)).toEqual([d.id]);
    const bytes = toBinary(WatchMeshPeersResponseSchema, up).length;
    expect(bytes).toBeLessThan(1500);

    const { revoked } = await ops().revokeCredential({ network: networkId, nodeId: d.id });
    expect(revoked).toBeGreaterThanOrEqual(1);
    const gone = await wa.nth(2);
    expect(gone.removedNodeIds).toEqual([d.id]);
    expect(gone.upserts).toEqual([]);
    const { credential } = await ops().issueCredential({ network: networkId, nodeId: d.id });
    const back = await wa.nth(3);
    expect(back.upserts.map((p) => p.nodeId)).toEqual([d.id]);
    expect(back.upserts[0]?.credential?.revision).toBe(credential?.revision ?? -1n);
    expect(wa.messages.length).toBe(4);
    await ops().leaveNetwork({ network: networkId, nodeId: d.id });
    expect((await wa.nth(4)).removedNodeIds).toEqual([d.id]);
    await wa.stop();
    await wb.stop();
  });

  test("a storage's VIP is routed to its export host (peers' AllowedIPs, its own interface) until deleted", async () => {
    const [a, b] = nodes as [MeshNode, MeshNode];
    const wa = watchPeers(a, networkId);
    const snap = await wa.nth(0);
    const storage = operatorClient(hub, StorageService);
    const created = await storage.createStorage({
      name: "mesh-vip",
      shape: StorageShape.SELF_HOSTED,
      network: networkId,
      exportHostId: b.id,
      exportPath: "/srv/mesh-vip",
    });
    const vip = created.storage?.vip ?? "-";
    const up = await wa.nth(1);
    expect(up.version).toBe(snap.version + 1n);
    const bAddress = snap.upserts.find((p) => p.nodeId === b.id)?.address;
    expect(up.upserts.map((p) => [p.nodeId, p.allowedIps])).toEqual([
      [b.id, [`${bAddress}/128`, `${vip}/128`]],
    ]);
    expect((await getDesiredState(hub.deps.db, b.id)).network?.meshes[0]?.vips).toEqual([vip]);
    expect((await getDesiredState(hub.deps.db, a.id)).network?.meshes[0]?.vips).toEqual([]);
    const again = watchPeers(a, networkId);
    const fresh = await again.nth(0);
    expect(fresh.upserts.find((p) => p.nodeId === b.id)?.allowedIps).toEqual([
      `${bAddress}/128`,
      `${vip}/128`,
    ]);
    await again.stop();

    await storage.deleteStorage({ storage: "mesh-vip" });
    const down = await wa.nth(2);
    expect(down.upserts.map((p) => [p.nodeId, p.allowedIps])).toEqual([[b.id, [`${bAddress}/128`]]]);
    expect((await getDesiredState(hub.deps.db, b.id)).network?.meshes[0]?.vips).toEqual([]);
    await wa.stop();
  });

  test("WatchMeshPeers refuses a node that is not a member; bad mesh reports are named by field", async () => {
    const outsider = await enrollTestNode(hub, "mesh-outsider");
    const e = await createClient(MeshSyncService, nodeTransport(hub, outsider))
      .watchMeshPeers({ networkId })
      [Symbol.asyncIterator]()
      .next()
      .then(() => undefined, ConnectError.from);
    expect(e?.code).toBe(Code.PermissionDenied);
    expect(e?.rawMessage).toMatch(/^network_id: this node is not a member/);
    const [a] = nodes as [MeshNode];
    const hb = await a.client
      .heartbeat({
        bootId: "b",
        agentVersion: "t",
        meshes: [{ networkId, publicKey: "not-a-key", listenPort: 1 }],
      })
      .then(() => undefined, ConnectError.from);
    expect(hb?.code).toBe(Code.InvalidArgument);
    expect(hb?.rawMessage).toMatch(/^meshes\[0\]\.public_key: /);
  });

  test("mesh health: handshakes within 275 s are up; the mesh is full when every expected peer is up", async () => {
    const now = Math.floor(Date.now() / 1000);
    for (const n of nodes) {
      const peers = nodes
        .filter((p) => p !== n)
        .map((p) => ({
          publicKey: p.key.publicKey,
          nodeId: p.id,
          endpoint: p.endpoint,
          latestHandshakeUnix: BigInt(now - 10),
        }));
      await n.client.heartbeat({
        bootId: "b",
        agentVersion: "t",
        meshes: [
          { networkId, publicKey: n.key.publicKey, listenPort: 51820, endpoints: [n.endpoint], peers },
        ],
      });
    }
    const h = await ops().getMeshHealth({ network: networkId });
    expect(h.fullMesh).toBe(true);
    expect(h.members.every((m) => m.expectedPeers === 2 && m.peers.every((p) => p.up))).toBe(true);
    // A member that has not reported its key yet is a peer nobody has: not a full mesh.
    const late = await enrollTestNode(hub, "mesh-late");
    await ops().joinNetwork({ network: networkId, nodeId: late.id });
    expect((await ops().getMeshHealth({ network: networkId })).fullMesh).toBe(false);
    await ops().leaveNetwork({ network: networkId, nodeId: late.id });
    expect((await ops().getMeshHealth({ network: networkId })).fullMesh).toBe(true);
    const [a] = nodes as [MeshNode];
    const stale = nodes
      .filter((p) => p !== a)
      .map((p) => ({ publicKey: p.key.publicKey, latestHandshakeUnix: BigInt(now - 400) }));
    await a.client.heartbeat({
      bootId: "b",
      agentVersion: "t",
      meshes: [
        { networkId, publicKey: a.key.publicKey, listenPort: 51820, endpoints: [a.endpoint], peers: stale },
      ],
    });
    const h2 = await ops().getMeshHealth({ network: networkId });
    expect(h2.fullMesh).toBe(false);
    expect(h2.members.find((m) => m.nodeId === a.id)?.peers.map((p) => p.up)).toEqual([false, false]);
  });

  test("no table holds a node's WireGuard private key", async () => {
    const rows = rowsOf<{ table_name: string }>(
      await hub.deps.db.execute(
        sql`select table_name from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE'`,
      ),
    );
    expect(rows.length).toBeGreaterThan(5);
    let scanned = 0;
    for (const { table_name } of rows) {
      const dump = await hub.deps.db.execute(sql.raw(`select t::text as row from "${table_name}" t`));
      const text = JSON.stringify(rowsOf(dump));
      scanned += text.length;
      for (const n of nodes) {
        expect(text.includes(n.key.privateKey)).toBe(false);
        expect(text.includes(Buffer.from(n.key.privateKey, "base64").toString("hex"))).toBe(false);
      }
    }
    // The public keys are there (so the scan sees member rows at all).
    const all = await hub.deps.db.execute(sql.raw(`select t::text as row from network_members t`));
    expect(JSON.stringify(all)).toContain(nodes[0]?.key.publicKey ?? "-");
    expect(scanned).toBeGreaterThan(1000);
  });
});
