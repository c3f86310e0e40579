/**
 * VIP failover against a real hub: a K3s cluster's API VIP held by three servers of a network, moved by
 * FailoverVip (manual) and by the `vip failover` job on the holder's loss (a clock and heartbeats the
 * test controls); peers' AllowedIPs, the holders' `vips` and the history follow.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { generateKeyPairSync } from "node:crypto";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import {
  EVENTS,
  K3sNodeService,
  K3sService,
  MeshSyncService,
  NetworkService,
  type WatchMeshPeersResponse,
} from "@powernode/proto";
import { eq } from "drizzle-orm";
import {
  type EnrolledTestNode,
  enrollTestNode,
  nodeTransport,
  operatorClient,
  startTestHub,
  testDbKind,
  waitFor,
} from "../../test/harness.ts";
import { fleetEvents, instances, vipAssignments } from "../db/schema/index.ts";
import { getDesiredState } from "../desired-state/index.ts";
import type { DomainError } from "../errors.ts";
import type { RunningHub } from "../hub.ts";
import { failoverVip } from "./vip-failover.ts";
import { vipFailoverJob } from "./vip-failover-job.ts";

let hub: RunningHub;
// The hub's own job never sees a holder lost (a day's threshold); the test runs it with 15 s.
beforeAll(async () => {
  hub = await startTestHub({ vipFailoverSeconds: 86_400 });
}, 30_000);
afterAll(() => hub.stop());

const net = () => operatorClient(hub, NetworkService);
const wgPublicKey = () =>
  Buffer.from(
    generateKeyPairSync("x25519").publicKey.export({ format: "jwk" }).x ?? "",
    "base64url",
  ).toString("base64");

interface Node extends EnrolledTestNode {
  name: string;
  publicKey: string;
}

async function report(n: Node, networkId: string, peers: Array<{ publicKey: string; at: number }> = []) {
  await n.client.heartbeat({
    bootId: "b",
    agentVersion: "test",
    meshes: [
      {
        networkId,
        publicKey: n.publicKey,
        listenPort: 51820,
        endpoints: ["10.203.7.1:51820"],
        peers: peers.map((p) => ({ publicKey: p.publicKey, latestHandshakeUnix: BigInt(p.at) })),
      },
    ],
  });
}

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
    nth: (i: number) => waitFor(`message ${i} on ${n.id}'s peer stream`, () => messages[i], 10_000),
    async stop() {
      stop.abort();
      await done;
    },
  };
}

async function refused(p: Promise<unknown>): Promise<ConnectError> {
  return p.then(() => {
    throw new Error("expected the call to be refused");
  }, ConnectError.from);
}

describe(`VIP failover (${testDbKind})`, () => {
  let networkId = "";
  let vipId = "";
  let vip = "";
  const nodes: Node[] = [];
  const member = new Map<string, string>();
  const node = (i: number) => nodes[i] as Node;
  const holders = async () =>
    (await net().listVips({ network: networkId })).vips.find((v) => v.id === vipId)?.holders ?? [];
  const history = async () => (await net().listVipAssignments({ vip: vipId })).assignments;
  /** Sets a node's last heartbeat (within the hub's own day-long threshold, so only the test's job acts). */
  const heartbeatAt = async (n: Node, at: Date) => {
    await hub.deps.db.update(instances).set({ lastHeartbeatAt: at }).where(eq(instances.id, n.id));
  };

  test("a cluster's API VIP: held by its servers in join order, a bootstrap row for the first", async () => {
    networkId = (await net().createNetwork({ name: "vipf" })).network?.id ?? "";
    for (const name of ["vipf-a", "vipf-b", "vipf-c", "vipf-d"]) {
      const n = { ...(await enrollTestNode(hub, name)), name, publicKey: wgPublicKey() };
      nodes.push(n);
      await net().joinNetwork({ network: networkId, nodeId: n.id });
      await report(n, networkId);
    }
    for (const m of (await net().listMembers({ network: networkId })).members) member.set(m.nodeId, m.id);
    const k3s = operatorClient(hub, K3sService);
    const { cluster } = await k3s.createCluster({ nodeId: node(0).id, network: networkId, name: "vipf" });
    for (const i of [1, 2]) await k3s.addNode({ cluster: "vipf", nodeId: node(i).id, role: "server" });
    const [v] = (await net().listVips({ network: networkId })).vips;
    vipId = v?.id ?? "";
    vip = v?.address ?? "";
    expect(vip).toBe(cluster?.apiVip ?? "-");
    expect(v?.state).toBe("active");
    expect(v?.holders.map((h) => [h.nodeId, h.nodeName, h.memberId, h.primary, h.alive])).toEqual(
      [0, 1, 2].map((i) => [node(i).id, node(i).name, member.get(node(i).id) ?? "-", i === 0, true]),
    );
    expect((await history()).map((a) => [a.reason, a.fromMemberId, a.toNodeId])).toEqual([
      ["bootstrap", "", node(0).id],
    ]);
  });

  test("FailoverVip moves the primary; the old one ends the failover list; peers and holders follow", async () => {
    const [a, b, , d] = nodes as [Node, Node, Node, Node];
    const w = watchPeers(d, networkId);
    const snap = await w.nth(0);
    const allowed = (m: WatchMeshPeersResponse, n: Node) =>
      m.upserts.find((p) => p.nodeId === n.id)?.allowedIps;
    expect(allowed(snap, a)).toContain(`${vip}/128`);
    expect(allowed(snap, b)).not.toContain(`${vip}/128`);

    const r = await net().failoverVip({ vip: vipId, to: b.id, correlationId: "drill-1" });
    expect(r.moved).toBe(true);
    expect(r.vip?.holders.map((h) => h.nodeId)).toEqual([b.id, node(2).id, a.id]);
    expect(r.assignment).toMatchObject({
      reason: "manual_failover",
      fromMemberId: member.get(a.id),
      fromNodeId: a.id,
      toMemberId: member.get(b.id),
      toNodeId: b.id,
      correlationId: "drill-1",
    });
    const up = await w.nth(1);
    expect(up.version).toBe(snap.version + 1n);
    expect(allowed(up, b)).toContain(`${vip}/128`);
    expect(allowed(up, a)).toEqual([`${snap.upserts.find((p) => p.nodeId === a.id)?.address}/128`]);
    await w.stop();
    expect((await getDesiredState(hub.deps.db, b.id)).network?.meshes[0]?.vips).toEqual([vip]);
    expect((await getDesiredState(hub.deps.db, a.id)).network?.meshes[0]?.vips).toEqual([]);
    const rows = await hub.deps.db.select().from(vipAssignments).where(eq(vipAssignments.vipId, vipId));
    expect(rows.map((x) => x.reason).sort()).toEqual(["bootstrap", "manual_failover"]);
    const [event] = await hub.deps.db
      .select()
      .from(fleetEvents)
      .where(eq(fleetEvents.correlationId, "drill-1"));
    expect(event).toMatchObject({ kind: EVENTS.vipFailover.kind, severity: "info", nodeId: b.id });
    expect(event?.payload).toMatchObject({ vipId, address: vip, fromNodeId: a.id, toNodeId: b.id });

    const again = await net().failoverVip({ vip: vipId, to: member.get(b.id) ?? "" });
    expect(again.moved).toBe(false);
    expect(await history()).toHaveLength(2);
  });

  test("refusals name the field: a non-holder, an unknown or malformed VIP, a bad reason", async () => {
    const e1 = await refused(net().failoverVip({ vip: vipId, to: node(3).id }));
    expect(e1.code).toBe(Code.InvalidArgument);
    expect(e1.rawMessage).toStartWith(`to: ${node(3).id} is not a holder of VIP vipf-api`);
    const e2 = await refused(net().failoverVip({ vip: crypto.randomUUID() }));
    expect(e2.code).toBe(Code.NotFound);
    expect(e2.rawMessage).toStartWith("vip: no VIP");
    expect((await refused(net().failoverVip({ vip: "nope" }))).rawMessage).toStartWith("vip: not a UUID");
    const e4 = await refused(net().failoverVip({ vip: vipId, reason: "bootstrap" }));
    expect(e4.rawMessage).toStartWith("reason: ");
    expect((await refused(net().listVipAssignments({ vip: crypto.randomUUID() }))).code).toBe(Code.NotFound);
    expect((await holders()).map((h) => h.nodeId)).toEqual([node(1).id, node(2).id, node(0).id]);
  });

  test("the job: nothing while the holder is fresh or a peer handshakes with it; sensor_failover when lost", async () => {
    const [a, b, c, d] = nodes as [Node, Node, Node, Node];
    const t0 = new Date();
    let clock = t0;
    const deps = { ...hub.deps, now: () => clock, config: { ...hub.deps.config, vipFailoverSeconds: 15 } };
    for (const n of nodes) await heartbeatAt(n, t0);
    await vipFailoverJob(deps);
    expect((await holders()).map((h) => h.nodeId)).toEqual([b.id, c.id, a.id]);

    // b's heartbeats stop; d still reports a handshake with it 5 s ago: b is alive.
    clock = new Date(t0.getTime() + 60_000);
    for (const n of [a, c, d]) await heartbeatAt(n, clock);
    await report(d, networkId, [{ publicKey: b.publicKey, at: Math.floor(clock.getTime() / 1000) - 5 }]);
    await heartbeatAt(d, clock);
    await vipFailoverJob(deps);
    expect((await holders()).map((h) => h.nodeId)).toEqual([b.id, c.id, a.id]);
    expect(await history()).toHaveLength(2);

    // The handshake ages past the threshold too: b is lost, c (the first live candidate) takes the VIP.
    clock = new Date(t0.getTime() + 80_000);
    for (const n of [a, c, d]) await heartbeatAt(n, clock);
    await vipFailoverJob(deps);
    expect((await holders()).map((h) => h.nodeId)).toEqual([c.id, a.id, b.id]);
    const last = (await history()).at(-1);
    expect(last).toMatchObject({ reason: "sensor_failover", fromNodeId: b.id, toNodeId: c.id });
    expect((await getDesiredState(hub.deps.db, c.id)).network?.meshes[0]?.vips).toEqual([vip]);
    expect((await getDesiredState(hub.deps.db, b.id)).network?.meshes[0]?.vips).toEqual([]);
    const events = await hub.deps.db
      .select()
      .from(fleetEvents)
      .where(eq(fleetEvents.kind, EVENTS.vipFailover.kind));
    expect(events.find((e) => e.payload.reason === "sensor_failover")).toMatchObject({
      severity: "warn",
      nodeId: c.id,
    });

    // Everyone lost: the VIP stays (stranded), and a default FailoverVip finds no live candidate.
    clock = new Date(t0.getTime() + 600_000);
    await vipFailoverJob(deps);
    expect((await holders()).map((h) => h.nodeId)).toEqual([c.id, a.id, b.id]);
  });

  test("failoverVip without `to`: the first live candidate, or precondition when none is", async () => {
    const [a, b, c, d] = nodes as [Node, Node, Node, Node];
    const now = new Date(Date.now() + 3_600_000);
    const deps = { ...hub.deps, now: () => now, config: { ...hub.deps.config, vipFailoverSeconds: 15 } };
    await report(d, networkId);
    for (const n of nodes) await heartbeatAt(n, new Date(now.getTime() - 60_000));
    const e = await failoverVip(deps, { vip: vipId, reason: "manual_failover" }).then(
      () => undefined,
      (x: unknown) => x as DomainError,
    );
    expect(e?.kind).toBe("precondition");
    expect(e?.message).toStartWith("vip: no live failover candidate for VIP vipf-api: none of vipf-a");
    await heartbeatAt(b, now);
    const r = await failoverVip(deps, { vip: vipId, reason: "manual_failover" });
    expect(r.moved).toBe(true);
    expect(r.vip.holderMemberIds).toEqual([b, a, c].map((n) => member.get(n.id) ?? "-"));
  });

  test("a server's bootstrap making itself primary is a bootstrap row", async () => {
    const [a, b] = nodes as [Node, Node];
    await createClient(K3sNodeService, nodeTransport(hub, a)).bootstrap({
      kubeconfig: "apiVersion: v1\n",
      serverToken: "K10abc::server:s1",
      k3sVersion: "v1.30.4+k3s1",
    });
    expect((await holders()).map((h) => h.nodeId)[0]).toBe(a.id);
    expect((await history()).at(-1)).toMatchObject({ reason: "bootstrap", fromNodeId: b.id, toNodeId: a.id });
  });
});
