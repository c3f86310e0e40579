import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "@connectrpc/connect";
import {
  Arch,
  CatalogService,
  EVENTS,
  FleetService,
  MeshSyncService,
  NetworkService,
  NodeService,
  ProvisionService,
} from "@powernode/proto";
import {
  createTestDb,
  enrollTestNode,
  nodeTransport,
  operatorClient,
  startTestHub,
  testDbKind,
  waitFor,
} from "../../test/harness.ts";
import type { RunningHub } from "../hub.ts";
import { parseClusterMessage } from "./cluster-bus.ts";

describe("parseClusterMessage", () => {
  test("reads each kind, ignores its own and anything else", () => {
    const m = (x: unknown) => JSON.stringify(x);
    expect(parseClusterMessage(m({ h: "b", k: "desired", node: "n", version: 3 }), "a")).toEqual({
      k: "desired",
      node: "n",
      version: 3,
    });
    expect(parseClusterMessage(m({ h: "b", k: "events", from: 1, to: 4 }), "a")).toEqual({
      k: "events",
      from: 1,
      to: 4,
    });
    expect(parseClusterMessage(m({ h: "b", k: "identity", serial: "1a2b" }), "a")).toEqual({
      k: "identity",
      serial: "1a2b",
    });
    expect(parseClusterMessage(m({ h: "b", k: "identity", node: "n" }), "a")).toEqual({
      k: "identity",
      node: "n",
    });
    expect(parseClusterMessage(m({ h: "b", k: "identity", serial: 7 }), "a")).toBeUndefined();
    expect(parseClusterMessage(m({ h: "a", k: "events", from: 1, to: 4 }), "a")).toBeUndefined();
    expect(parseClusterMessage(m({ h: "b", k: "desired", node: "n", version: "3" }), "a")).toBeUndefined();
    expect(parseClusterMessage("not json", "a")).toBeUndefined();
  });
});

// Several hub processes share a database only on PostgreSQL: the PGlite run checks that the bus is
// inert there, the PostgreSQL run (npm test's postgres suite) checks the fan-out between two hubs.
describe.if(testDbKind === "pglite")("on PGlite", () => {
  test("the cluster bus is not shared", async () => {
    await using hub = await startTestHub();
    expect(hub.deps.cluster.shared).toBe(false);
  });
});

describe.if(testDbKind === "postgres")("two hubs on one PostgreSQL", () => {
  let db: Awaited<ReturnType<typeof createTestDb>>;
  let one: RunningHub;
  let two: RunningHub;
  let dataDir: string;
  beforeAll(async () => {
    db = await createTestDb();
    // One data dir: the key-encryption key, the operator token file and the OCI store are shared.
    dataDir = mkdtempSync(join(tmpdir(), "pn-cluster-"));
    one = await startTestHub({ databaseUrl: db.url, dataDir });
    two = await startTestHub({ databaseUrl: db.url, dataDir });
  }, 60_000);
  afterAll(async () => {
    await two?.stop();
    await one?.stop();
    await db?.[Symbol.asyncDispose]();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test("an assignment made through hub 1 reaches a node watching on hub 2 within 1 s", async () => {
    expect(one.deps.cluster.shared && two.deps.cluster.shared).toBe(true);
    const catalog = operatorClient(one, CatalogService);
    await catalog.createModule({ name: "shared-mod" });
    await catalog.createModuleVersion({
      moduleName: "shared-mod",
      version: "1",
      arch: Arch.AMD64,
      fsverityDigest: "a".repeat(64),
      verityRootHash: "b".repeat(64),
      ociDigest: `sha256:${"c".repeat(64)}`,
    });
    const provision = operatorClient(one, ProvisionService);
    const node = await enrollTestNode(one, "watcher");
    const id = node.id;
    const onTwo = createClient(NodeService, nodeTransport(two, node));
    const abort = new AbortController();
    const seen: { version: bigint; at: number; modules: string[] }[] = [];
    const watching = (async () => {
      for await (const m of onTwo.watchDesiredState({ knownVersion: 0n }, { signal: abort.signal }))
        if (m.state)
          seen.push({
            version: m.state.version,
            at: performance.now(),
            modules: m.state.modules?.assignments.map((a) => a.name) ?? [],
          });
    })().catch(() => undefined);
    await waitFor("the first document on hub 2", () => seen.length > 0 || undefined, 5_000);
    const sent = performance.now();
    await provision.assignModules({ instanceId: id, modules: [{ name: "shared-mod" }] });
    await waitFor(
      "the assignment on hub 2",
      () => seen.some((s) => s.modules.includes("shared-mod")) || undefined,
      1_000,
    );
    const got = seen.find((s) => s.modules.includes("shared-mod"));
    expect((got?.at ?? 0) - sent).toBeLessThan(1_000);
    abort.abort();
    await watching;
  });

  test("an event emitted by hub 1 reaches a WatchEvents stream on hub 2, in order, none lost", async () => {
    const abort = new AbortController();
    const got: string[] = [];
    const stream = operatorClient(two, FleetService).watchEvents(
      { kindPrefix: "system.registry.changed" },
      { signal: abort.signal },
    );
    const reading = (async () => {
      for await (const m of stream) if (m.event) got.push(String(m.event.payload?.registry));
    })().catch(() => undefined);
    const hosts = Array.from({ length: 20 }, (_, i) => `r${i}.example`);
    const arrived = async (n: number) => {
      const end = performance.now() + 5_000;
      while (got.length < n && performance.now() < end) await Bun.sleep(10);
    };
    // The first one may come by replay; once it is here the stream is subscribed, so the rest can
    // only come live, through hub 2's LISTEN.
    await one.deps.events.emit(EVENTS.registryChanged, { registry: hosts[0] });
    await arrived(1);
    for (const h of hosts.slice(1)) await one.deps.events.emit(EVENTS.registryChanged, { registry: h });
    await arrived(hosts.length);
    expect(got).toEqual(hosts);
    abort.abort();
    await reading;
  });
  test("a member joining through hub 1: a peer stream on hub 2 resends its snapshot with the new peer", async () => {
    const wg = () => {
      const { publicKey } = generateKeyPairSync("x25519");
      return Buffer.from(publicKey.export({ format: "jwk" }).x ?? "", "base64url").toString("base64");
    };
    const ops = operatorClient(one, NetworkService);
    const { network } = await ops.createNetwork({ name: "cross-hub" });
    const networkId = network?.id ?? "";
    const a = await enrollTestNode(one, "mesh-a");
    const b = await enrollTestNode(one, "mesh-b");
    const report = (n: typeof a) =>
      n.client.heartbeat({
        bootId: "b",
        agentVersion: "test",
        meshes: [{ networkId, publicKey: wg(), listenPort: 51820, endpoints: ["192.0.2.1:51820"] }],
      });
    await ops.joinNetwork({ network: networkId, nodeId: a.id });
    await report(a);
    const abort = new AbortController();
    const messages: { snapshot: boolean; peers: string[] }[] = [];
    const stream = createClient(MeshSyncService, nodeTransport(two, a)).watchMeshPeers(
      { networkId },
      { signal: abort.signal },
    );
    const reading = (async () => {
      for await (const m of stream)
        messages.push({ snapshot: m.snapshot, peers: m.upserts.map((p) => p.nodeId) });
    })().catch(() => undefined);
    await waitFor("the first snapshot on hub 2", () => messages.length > 0 || undefined, 5_000);
    expect(messages[0]).toEqual({ snapshot: true, peers: [] });
    await ops.joinNetwork({ network: networkId, nodeId: b.id });
    await report(b);
    await waitFor(
      "b in a snapshot on hub 2",
      () => messages.some((m) => m.snapshot && m.peers.includes(b.id)) || undefined,
      2_000,
    );
    abort.abort();
    await reading;
  });
  test("an attestation requested through hub 1 rides the node's next heartbeat answer on hub 2", async () => {
    const n = await enrollTestNode(one, "attested");
    const onTwo = createClient(NodeService, nodeTransport(two, n));
    await onTwo.heartbeat({ bootId: "b", agentVersion: "test" }); // RUNNING: attestable
    const asked = await operatorClient(one, FleetService).requestAttestation({ nodeId: n.id });
    const end = performance.now() + 2_000;
    let nonce: Uint8Array = new Uint8Array();
    while (nonce.length === 0 && performance.now() < end) {
      nonce = (await onTwo.heartbeat({ bootId: "b", agentVersion: "test" })).attestNonce;
      if (nonce.length === 0) await Bun.sleep(20);
    }
    expect(Buffer.from(nonce).toString("hex")).toBe(Buffer.from(asked.nonce).toString("hex"));
  });
  test("certificates revoked through hub 1 are refused on hub 2 within 1 s, long before its cache period", async () => {
    const n = await enrollTestNode(one, "revoked-across");
    const onTwo = createClient(NodeService, nodeTransport(two, n));
    await onTwo.heartbeat({ bootId: "b", agentVersion: "test" }); // hub 2 has the identity cached
    expect(two.deps.nodeIdentity.ttlMs).toBeGreaterThan(60_000);
    const sent = performance.now();
    await operatorClient(one, FleetService).revokeNodeCertificates({ nodeId: n.id });
    const refused = await waitFor(
      "hub 2 to refuse the revoked certificate",
      async () => {
        try {
          await onTwo.heartbeat({ bootId: "b", agentVersion: "test" });
          return undefined;
        } catch (e) {
          return String((e as Error).message);
        }
      },
      1_000,
    );
    expect(performance.now() - sent).toBeLessThan(1_000);
    expect(refused).toContain("certificate revoked");
  });
});
