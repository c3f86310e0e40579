/** `pnctl k3s` against a real hub: profile, pod prefix, create, show, nodes, kubeconfig, cni, rm, errors. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { enrollTestNode, startTestHub } from "../../test/harness.ts";
import type { RunningHub } from "../hub.ts";
import { cliFor } from "./test-cli.ts";

let hub: RunningHub;
beforeAll(async () => {
  hub = await startTestHub();
}, 30_000);
afterAll(() => hub.stop());

const cli = cliFor(() => hub);

describe("pnctl k3s", () => {
  test("a cluster from the command line", async () => {
    await cli("net", "create", "cli-k3s");
    const node = await enrollTestNode(hub, "cli-k3s-a");
    await cli("net", "join", "cli-k3s", node.id);
    expect((await cli("k3s", "pod-prefix", "cli-k3s", "10.42.0.0/16")).out).toBe(
      "pod subnet prefix: 10.42.0.0/16",
    );
    expect((await cli("k3s", "profile", node.id, "lightweight")).out).toBe("network profile: lightweight");
    const created = JSON.parse((await cli("k3s", "create", node.id, "--name", "demo", "--json")).out) as {
      status: string;
      cni: string;
      podCidr: string;
      apiEndpoint: string;
    };
    expect(created).toMatchObject({ status: "pending", cni: "flannel", podCidr: "10.42.0.0/16" });
    expect(created.apiEndpoint).toMatch(/^https:\/\/\[[0-9a-f:]+:dead:beef:0:[0-9a-f]+\]:6443$/);
    expect((await cli("k3s", "ls")).out).toMatch(/demo\s+pending\s+flannel\s+-\s+1\s+https:/);
    expect((await cli("k3s", "show", "demo")).out).toContain("create completed: created by cli-k3s-a");
    expect((await cli("k3s", "nodes", "demo")).out).toMatch(/cli-k3s-a\s+server\s+joining/);
    expect((await cli("k3s", "kubeconfig", "demo")).out).toBe("(no kubeconfig yet)");
    expect((await cli("k3s", "cni", node.id)).out).toBe("flannel (cluster demo)");
    expect((await cli("k3s", "rm", "demo")).out).toMatch(/: 1 node\(s\) freed$/);
  }, 30_000);

  test("k3s drain: the node disconnected, the drain in the cluster's events", async () => {
    await cli("net", "create", "cli-drain");
    const node = await enrollTestNode(hub, "cli-drain-a");
    await cli("net", "join", "cli-drain", node.id);
    await cli("k3s", "create", node.id, "--name", "drained");
    const out = await cli("k3s", "drain", "drained", node.id, "--reason", "new disk");
    expect(out.code).toBe(0);
    expect(out.out).toMatch(/status:\s+disconnected/);
    const json = JSON.parse((await cli("k3s", "drain", "drained", node.id, "--json")).out) as {
      role: string;
      status: string;
    };
    expect(json).toMatchObject({ role: "server", status: "disconnected" });
    expect((await cli("k3s", "show", "drained")).out).toContain(
      `drain disconnected: server cli-drain-a (instance ${node.id}) drained: new disk`,
    );
    expect((await cli("k3s", "drain", "drained")).code).toBe(2);
    expect((await cli("k3s", "rm", "drained")).code).toBe(0);
  });

  test("errors name the field", async () => {
    const node = await enrollTestNode(hub, "cli-k3s-b");
    const bad = await cli("k3s", "create", node.id, "--cni", "calico");
    expect(bad.code).toBe(1);
    expect(bad.err).toContain('cni: "calico" is not a supported CNI');
    expect((await cli("k3s", "create", node.id)).err).toContain("SDWAN");
    expect((await cli("k3s", "show")).code).toBe(2);
    expect((await cli("k3s", "frob")).code).toBe(2);
  });
});
