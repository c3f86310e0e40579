/**
 * Draining a node (K3sService.DrainNode) and deleting its instance (ProvisionService.DeleteInstance):
 * the node row disconnected with a `drain` bootstrap event naming the instance, then gone with the
 * cluster's node_count recounted and a `remove` event; the sweep catches a deletion no listener saw.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Code, createClient } from "@connectrpc/connect";
import { K3sNodeService, K3sService, NetworkService, ProvisionService } from "@powernode/proto";
import { eq } from "drizzle-orm";
import {
  enrollTestNode,
  nodeTransport,
  operatorClient,
  refusalOf,
  startTestHub,
  waitFor,
} from "../../test/harness.ts";
import { instances, k3sClusterNodes } from "../db/schema/index.ts";
import type { RunningHub } from "../hub.ts";
import { forgetDeletedNodes } from "./deleted-nodes.ts";

let hub: RunningHub & AsyncDisposable;
let k3s: ReturnType<typeof operatorClient<typeof K3sService>>;
let net: ReturnType<typeof operatorClient<typeof NetworkService>>;
let prov: ReturnType<typeof operatorClient<typeof ProvisionService>>;

async function k3sNode(name: string, network: string) {
  const n = await enrollTestNode(hub, name);
  await net.joinNetwork({ network, nodeId: n.id });
  return { ...n, k3s: createClient(K3sNodeService, nodeTransport(hub, n)) };
}

/** A network with an active cluster: its bootstrap server and `agents` ready agents. */
async function clusterWith(name: string, agents: number) {
  await net.createNetwork({ name });
  const server = await k3sNode(`${name}-server`, name);
  const b = await server.k3s.bootstrap({
    kubeconfig: "apiVersion: v1\n",
    serverToken: "K10drain",
    k3sVersion: "v1",
  });
  await server.k3s.markReady({ k3sVersion: "v1" });
  const workers = [];
  for (let i = 1; i <= agents; i++) {
    const w = await k3sNode(`${name}-agent-${i}`, name);
    await w.k3s.registerNode({ clusterId: b.cluster?.id ?? "", role: "agent", k3sVersion: "v1" });
    await w.k3s.markReady({ k3sVersion: "v1" });
    workers.push(w);
  }
  return { id: b.cluster?.id ?? "", server, workers };
}

const getCluster = async (id: string) => (await k3s.getCluster({ cluster: id })).cluster;

beforeAll(async () => {
  hub = await startTestHub();
  k3s = operatorClient(hub, K3sService);
  net = operatorClient(hub, NetworkService);
  prov = operatorClient(hub, ProvisionService);
}, 30_000);
afterAll(() => hub.stop());

describe("DrainNode", () => {
  test("a server holding the API VIP: the VIP fails over to a live server first, the drained one leaves the holders", async () => {
    const c = await clusterWith("drain-v", 0);
    const second = await k3sNode("drain-v-ha", "drain-v");
    await second.k3s.registerNode({ clusterId: c.id, role: "server", k3sVersion: "v1" });
    await second.k3s.markReady({ k3sVersion: "v1" });
    await second.client.heartbeat({ bootId: "b", agentVersion: "test" }); // alive: a candidate
    const vips = async () => (await net.listVips({ network: "drain-v" })).vips[0];
    expect((await vips())?.holders.map((h) => h.nodeId)).toEqual([c.server.id, second.id]);
    await k3s.drainNode({ cluster: c.id, nodeId: c.server.id });
    expect((await vips())?.holders.map((h) => h.nodeId)).toEqual([second.id]);
    const history = (await net.listVipAssignments({ vip: (await vips())?.id ?? "" })).assignments;
    expect(history.at(-1)).toMatchObject({
      reason: "manual_failover",
      fromNodeId: c.server.id,
      toNodeId: second.id,
      correlationId: `drain:${c.server.id}`,
    });
  });

  test("an agent: disconnected, a drain event naming its instance, the cluster stays active", async () => {
    const c = await clusterWith("drain-a", 1);
    const agent = c.workers[0];
    if (!agent) throw new Error("no agent");
    const r = await k3s.drainNode({ cluster: c.id, nodeId: agent.id, reason: "replace the machine" });
    expect(r.node?.status).toBe("disconnected");
    expect(r.node?.role).toBe("agent");
    expect(r.clusterStatus).toBe("active");
    const last = (await getCluster(c.id))?.bootstrapEvents.at(-1);
    expect(last?.phase).toBe("drain");
    expect(last?.status).toBe("disconnected");
    expect(last?.message).toContain(agent.id);
    expect(last?.message).toContain("replace the machine");
    // Draining again is harmless; the default reason.
    const again = await k3s.drainNode({ cluster: "drain-a-server-k8s", nodeId: agent.id });
    expect(again.node?.status).toBe("disconnected");
    expect((await getCluster(c.id))?.bootstrapEvents.at(-1)?.message).toContain("drained by an operator");
  });

  test("k3s coming back on a drained machine does not undo the drain; an operator's AddNode does", async () => {
    const c = await clusterWith("drain-r", 1);
    const agent = c.workers[0];
    if (!agent) throw new Error("no agent");
    await k3s.drainNode({ cluster: c.id, nodeId: agent.id });
    const listed = async () =>
      (await k3s.listClusterNodes({ cluster: c.id })).nodes.find((n) => n.nodeId === agent.id);
    expect((await listed())?.drainedAt).toBeDefined();
    const ready = await refusalOf(agent.k3s.markReady({ k3sVersion: "v1" }));
    expect(ready?.code).toBe(Code.FailedPrecondition);
    expect(ready?.message).toContain("was drained from cluster drain-r-server-k8s");
    expect(ready?.message).toContain("AddNode");
    const again = await refusalOf(
      agent.k3s.registerNode({ clusterId: c.id, role: "agent", k3sVersion: "v1" }),
    );
    expect(again?.code).toBe(Code.FailedPrecondition);
    expect(await listed()).toMatchObject({ status: "disconnected" });
    // A refused node move leaves the row as the drain left it; MarkStopped is still taken.
    expect((await agent.k3s.markStopped({ reason: "k3s stopped" })).node?.status).toBe("disconnected");
    await k3s.addNode({ cluster: c.id, nodeId: agent.id, role: "agent" });
    expect((await listed())?.drainedAt).toBeUndefined();
    expect((await agent.k3s.markReady({ k3sVersion: "v1" })).node?.status).toBe("active");
  });

  test("the last active server: the cluster is disconnected", async () => {
    const c = await clusterWith("drain-b", 0);
    const r = await k3s.drainNode({ cluster: c.id, nodeId: c.server.id });
    expect(r.clusterStatus).toBe("disconnected");
    expect((await getCluster(c.id))?.status).toBe("disconnected");
    // Its agent reporting fresh credentials does not bring it back either.
    const again = await refusalOf(
      c.server.k3s.bootstrap({ kubeconfig: "apiVersion: v1\n", serverToken: "K10drain", k3sVersion: "v1" }),
    );
    expect(again?.code).toBe(Code.FailedPrecondition);
    expect(again?.message).toContain("was drained");
    expect((await k3s.listClusterNodes({ cluster: c.id })).nodes[0]?.status).toBe("disconnected");
  });

  test("refusals name the field", async () => {
    const c = await clusterWith("drain-c", 0);
    const other = await clusterWith("drain-d", 0);
    const wrong = await refusalOf(k3s.drainNode({ cluster: c.id, nodeId: other.server.id }));
    expect(wrong?.code).toBe(Code.FailedPrecondition);
    expect(wrong?.message).toContain(
      "node_id: node drain-d-server is in cluster drain-d-server-k8s, not drain-c-server-k8s",
    );
    const lone = await enrollTestNode(hub, "drain-lone");
    expect((await refusalOf(k3s.drainNode({ cluster: c.id, nodeId: lone.id })))?.message).toContain(
      "in no Kubernetes cluster",
    );
    expect((await refusalOf(k3s.drainNode({ cluster: c.id, nodeId: "nope" })))?.message).toContain("node_id");
    expect((await refusalOf(k3s.drainNode({ cluster: "", nodeId: lone.id })))?.message).toContain("cluster");
    expect((await refusalOf(k3s.drainNode({ cluster: "none", nodeId: lone.id })))?.code).toBe(Code.NotFound);
  });
});

describe("a deleted instance leaves its cluster", () => {
  test("DeleteInstance: the node row gone, node_count recounted, a remove event naming the instance", async () => {
    const c = await clusterWith("delete-a", 2);
    const [first, second] = c.workers;
    if (!first || !second) throw new Error("no agents");
    expect((await getCluster(c.id))?.nodeCount).toBe(3);
    await k3s.drainNode({ cluster: c.id, nodeId: first.id });
    await prov.deleteInstance({ id: first.id });
    const after = await waitFor("the deleted agent's cluster node to be removed", async () => {
      const nodes = (await k3s.listClusterNodes({ cluster: c.id })).nodes;
      return nodes.some((n) => n.nodeId === first.id) ? undefined : nodes;
    });
    expect(after.map((n) => n.nodeId).sort()).toEqual([c.server.id, second.id].sort());
    const cluster = await getCluster(c.id);
    expect(cluster?.nodeCount).toBe(2);
    expect(cluster?.status).toBe("active");
    const last = cluster?.bootstrapEvents.at(-1);
    expect(last?.phase).toBe("remove");
    expect(last?.message).toContain(first.id);
    // A replacement joins: node_count back to 3.
    const replacement = await k3sNode("delete-a-replacement", "delete-a");
    const reg = await replacement.k3s.registerNode({ clusterId: c.id, role: "agent", k3sVersion: "v1" });
    expect(reg.nodeCount).toBe(3);
  });

  test("the sweep removes the nodes of instances deleted while nothing listened", async () => {
    const c = await clusterWith("delete-b", 1);
    const agent = c.workers[0];
    if (!agent) throw new Error("no agent");
    // Deleted behind the hub's back (no event): only the sweep sees it.
    await hub.deps.db.update(instances).set({ state: "deleted" }).where(eq(instances.id, agent.id));
    expect(await forgetDeletedNodes(hub.deps, c.server.id)).toBe(0);
    expect(await forgetDeletedNodes(hub.deps)).toBe(1);
    expect(
      await hub.deps.db.select().from(k3sClusterNodes).where(eq(k3sClusterNodes.instanceId, agent.id)),
    ).toEqual([]);
    expect((await getCluster(c.id))?.nodeCount).toBe(1);
    expect(await forgetDeletedNodes(hub.deps)).toBe(0);
  });

  test("the last server deleted: the cluster is disconnected with no nodes", async () => {
    const c = await clusterWith("delete-c", 0);
    await prov.deleteInstance({ id: c.server.id });
    const cluster = await waitFor("the cluster to lose its server", async () => {
      const x = await getCluster(c.id);
      return x?.nodeCount === 0 ? x : undefined;
    });
    expect(cluster.status).toBe("disconnected");
  });
});
