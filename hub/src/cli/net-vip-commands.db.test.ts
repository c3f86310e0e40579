/** `pnctl networks vips|vip-failover|vip-history` against a real hub: a K3s API VIP with two servers. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { K3sService, NetworkService } from "@powernode/proto";
import { enrollTestNode, operatorClient, startTestHub } from "../../test/harness.ts";
import type { RunningHub } from "../hub.ts";
import { cliFor } from "./test-cli.ts";

let hub: RunningHub;
beforeAll(async () => {
  hub = await startTestHub({ vipFailoverSeconds: 86_400 });
}, 30_000);
afterAll(() => hub.stop());
const cli = cliFor(() => hub);

describe("pnctl networks: VIPs", () => {
  test("vips, vip-failover (to a node, then back by default), vip-history, errors", async () => {
    const net = operatorClient(hub, NetworkService);
    await net.createNetwork({ name: "cli-vip" });
    const [a, b, c] = [
      await enrollTestNode(hub, "cli-vip-a"),
      await enrollTestNode(hub, "cli-vip-b"),
      await enrollTestNode(hub, "cli-vip-c"),
    ];
    for (const n of [a, b, c]) {
      await net.joinNetwork({ network: "cli-vip", nodeId: n.id });
      await n.client.heartbeat({ bootId: "b", agentVersion: "test" });
    }
    const k3s = operatorClient(hub, K3sService);
    await k3s.createCluster({ nodeId: a.id, network: "cli-vip", name: "cli-vip" });
    await k3s.addNode({ cluster: "cli-vip", nodeId: b.id, role: "server" });

    const listed = await cli("networks", "vips", "cli-vip", "--json");
    expect(listed.code).toBe(0);
    const [vip] = JSON.parse(listed.out) as Array<{
      id: string;
      name: string;
      holders: Array<{ nodeId: string; primary: boolean; alive: boolean }>;
    }>;
    expect(vip?.name).toBe("cli-vip-api");
    expect(vip?.holders.map((h) => [h.nodeId, h.primary, h.alive])).toEqual([
      [a.id, true, true],
      [b.id, false, true],
    ]);
    const tableOut = (await cli("net", "vips", "cli-vip")).out.split("\n");
    expect(tableOut[0]).toMatch(/^ID\s+NAME\s+ADDRESS\s+STATE\s+HOLDERS/);
    expect(tableOut[1]).toContain("cli-vip-a*, cli-vip-b");

    const id = vip?.id ?? "";
    const moved = await cli(
      "networks",
      "vip-failover",
      id,
      "--to",
      b.id,
      "--correlation",
      "cli-drill",
      "--json",
    );
    expect(moved.code).toBe(0);
    expect(JSON.parse(moved.out)).toMatchObject({
      moved: true,
      from: a.id,
      to: b.id,
      reason: "manual_failover",
      correlation: "cli-drill",
      holders: "cli-vip-b*, cli-vip-a",
    });
    const back = await cli("networks", "vip-failover", id);
    expect(back.code).toBe(0);
    expect(back.out).toMatch(/^moved:\s+true/m);
    expect(back.out).toMatch(/^to:\s+/m);
    expect(back.out).toContain(a.id);

    const history = JSON.parse((await cli("networks", "vip-history", id, "--json")).out) as Array<{
      reason: string;
      toNodeId: string;
    }>;
    expect(history.map((h) => [h.reason, h.toNodeId])).toEqual([
      ["bootstrap", a.id],
      ["manual_failover", b.id],
      ["manual_failover", a.id],
    ]);
    expect((await cli("net", "vip-history", id)).out.split("\n")[0]).toMatch(/^AT\s+REASON\s+FROM\s+TO/);

    const notHolder = await cli("networks", "vip-failover", id, "--to", c.id);
    expect(notHolder.code).toBe(1);
    expect(notHolder.err).toContain(`InvalidArgument: to: ${c.id} is not a holder of VIP cli-vip-api`);
    const unknown = await cli("networks", "vip-history", crypto.randomUUID());
    expect(unknown.code).toBe(1);
    expect(unknown.err).toContain("NotFound: vip: no VIP");
    const missing = await cli("networks", "vip-failover");
    expect(missing.code).toBe(2);
    expect(missing.err).toContain("networks vip-failover: missing <VIP>");
  });
});
