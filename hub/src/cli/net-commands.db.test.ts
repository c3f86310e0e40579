/** `pnctl net` against a real hub: create, join, members, revoke/issue, health (--json, and errors). */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { enrollTestNode, startTestHub } from "../../test/harness.ts";
import type { RunningHub } from "../hub.ts";
import { runCli } from "./run.ts";

let hub: RunningHub;
beforeAll(async () => {
  hub = await startTestHub();
}, 30_000);
afterAll(async () => {
  await hub.stop();
});

async function cli(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(
    ["--url", hub.httpUrl, ...argv],
    { POWERNODE_TOKEN: hub.adminToken },
    { out: (l) => out.push(l), err: (l) => err.push(l) },
  );
  return { code, out: out.join("\n"), err: err.join("\n") };
}

describe("pnctl net", () => {
  test("create, join, members, revoke, issue, health", async () => {
    const created = await cli("net", "create", "cli-net", "--prefix", "fd12:3456:789a:1::/64", "--json");
    expect(created.code).toBe(0);
    const net = JSON.parse(created.out) as { handle: string; prefix: string; interface: string };
    expect(net.prefix).toBe("fd12:3456:789a:1::/64");
    expect(net.interface).toBe(`wg-sdwan-${net.handle}`);
    const node = await enrollTestNode(hub, "cli-net-a");
    const joined = JSON.parse((await cli("net", "join", "cli-net", node.id, "--json")).out) as {
      address: string;
    };
    expect(joined.address.startsWith("fd12:3456:789a:1:")).toBe(true);
    const members = JSON.parse((await cli("net", "members", "cli-net", "--json")).out) as Array<{
      credential: string;
    }>;
    expect(members.map((m) => m.credential)).toEqual(["none"]);
    const health = JSON.parse((await cli("net", "health", "cli-net", "--json")).out) as { fullMesh: boolean };
    expect(health.fullMesh).toBe(false);
    const ls = JSON.parse((await cli("net", "ls", "--json")).out) as Array<{ name: string; members: number }>;
    expect(ls).toContainEqual(expect.objectContaining({ name: "cli-net", members: 1 }));
    const table = await cli("net", "ls");
    expect(table.out.split("\n")[0]).toMatch(/^NAME\s+HANDLE\s+PREFIX/);
  });

  test("errors name the problem: unknown network, no key reported yet, bad topology", async () => {
    const missing = await cli("net", "show", "nope");
    expect(missing.code).toBe(1);
    expect(missing.err).toContain('network: no network "nope"');
    const node = await enrollTestNode(hub, "cli-net-b");
    await cli("net", "create", "cli-net-2");
    await cli("net", "join", "cli-net-2", node.id);
    const issue = await cli("net", "issue", "cli-net-2", node.id);
    expect(issue.code).toBe(1);
    expect(issue.err).toMatch(/no key|public key/i);
    const bad = await cli("net", "create", "x", "--topology", "ring");
    expect(bad.code).toBe(2);
    expect(bad.err).toContain("--topology must be full_mesh or hub_and_spoke");
  });
});
