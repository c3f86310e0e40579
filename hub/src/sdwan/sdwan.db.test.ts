/**
 * SdwanService against a real hub (PGlite, or PostgreSQL with the db suite): host bridge allocation
 * and lifecycle, profiles, IPFIX collectors, and the `sdwan` section each node's desired state gets.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Code } from "@connectrpc/connect";
import { EVENTS, K3sService, MeshTopology, NetworkService, SdwanService } from "@powernode/proto";
import { and, eq } from "drizzle-orm";
import { enrollTestNode, operatorClient, refusalOf, startTestHub } from "../../test/harness.ts";
import { fleetEvents, networkMembers } from "../db/schema/index.ts";
import { getDesiredState } from "../desired-state/index.ts";
import type { RunningHub } from "../hub.ts";
import { routedByMember } from "../network/peers.ts";
import { observationDomain } from "./ovs-segment.ts";

let hub: RunningHub;
let light = "";
let heavy = "";
beforeAll(async () => {
  hub = await startTestHub();
  light = (await enrollTestNode(hub, "sd-light")).id;
  heavy = (await enrollTestNode(hub, "sd-heavy")).id;
  await operatorClient(hub, K3sService).setNetworkProfile({ nodeId: heavy, profile: "heavyweight" });
}, 30_000);
afterAll(async () => {
  await hub.stop();
});

const eventsOf = (kind: string, nodeId?: string) =>
  hub.deps.db
    .select()
    .from(fleetEvents)
    .where(
      nodeId ? and(eq(fleetEvents.kind, kind), eq(fleetEvents.nodeId, nodeId)) : eq(fleetEvents.kind, kind),
    );

const sectionOf = async (nodeId: string) => (await getDesiredState(hub.deps.db, nodeId)).sdwan?.bridges ?? [];

describe("host bridges", () => {
  test("allocation: pwnbr-1 linux on a node of unknown profile, idempotent, in its desired state", async () => {
    const s = operatorClient(hub, SdwanService);
    const a = await s.allocateHostBridge({ nodeId: light });
    expect(a.bridge).toMatchObject({
      shortId: 1,
      name: "pwnbr-1",
      kind: "linux",
      state: "active",
      nodeId: light,
    });
    expect(a.created).toBe(true);
    const again = await s.allocateHostBridge({ nodeId: light });
    expect(again.bridge?.id).toBe(a.bridge?.id);
    expect(again.created).toBe(false);
    expect((await sectionOf(light)).map((b) => [b.name, b.kind, b.state])).toEqual([
      ["pwnbr-1", "linux", "active"],
    ]);
    expect(await eventsOf(EVENTS.sdwanHostBridgeAllocated.kind, light)).toHaveLength(1);
    // The section changed once: one topology_compiled, though the idempotent call recompiled too.
    const compiled = await eventsOf(EVENTS.sdwanTopologyCompiled.kind, light);
    expect(compiled.map((e) => (e.payload as { bridges?: string }).bridges)).toEqual(["pwnbr-1:linux"]);
  });

  test("profiles: heavyweight -> ovs, an explicit kind wins; a second kind gets the next short id", async () => {
    const s = operatorClient(hub, SdwanService);
    expect((await s.allocateHostBridge({ nodeId: heavy })).bridge).toMatchObject({ shortId: 1, kind: "ovs" });
    expect((await s.allocateHostBridge({ nodeId: heavy, kind: "linux" })).bridge).toMatchObject({
      shortId: 2,
      name: "pwnbr-2",
      kind: "linux",
    });
    expect((await sectionOf(heavy)).map((b) => b.kind)).toEqual(["ovs", "linux"]);
    expect((await sectionOf(light)).map((b) => b.kind)).toEqual(["linux"]);
    const h = await s.suggestNetworkProfile({ nodeId: heavy });
    // Its size (1 vCPU, 1024 MiB) suggests lightweight; the profile set stays as it is.
    expect([h.profile, h.current]).toEqual(["lightweight", "heavyweight"]);
    expect((await s.suggestNetworkProfile({ nodeId: light })).current).toBe("");
  });

  test("lifecycle: draining stays in the section, removed leaves it; re-allocation re-adopts the row", async () => {
    const s = operatorClient(hub, SdwanService);
    const b = (await s.allocateHostBridge({ nodeId: light, kind: "ovs" })).bridge;
    expect(b?.shortId).toBe(2);
    expect(await refusalOf(s.removeHostBridge({ bridgeId: b?.id ?? "" }))).toEqual({
      code: Code.FailedPrecondition,
      message: "bridge_id: pwnbr-2 is active; only a draining bridge can become removed",
    });
    expect((await s.drainHostBridge({ bridgeId: b?.id ?? "" })).bridge?.state).toBe("draining");
    expect((await sectionOf(light)).find((x) => x.id === b?.id)?.state).toBe("draining");
    expect((await s.removeHostBridge({ bridgeId: b?.id ?? "" })).bridge?.state).toBe("removed");
    expect((await sectionOf(light)).some((x) => x.id === b?.id)).toBe(false);
    expect((await s.listHostBridges({ nodeId: light })).bridges.map((x) => x.state)).toEqual([
      "active",
      "removed",
    ]);
    const back = await s.allocateHostBridge({ nodeId: light, kind: "ovs" });
    expect([back.bridge?.id, back.bridge?.shortId, back.bridge?.state, back.readopted]).toEqual([
      b?.id,
      2,
      "active",
      true,
    ]);
  });

  test("bad input is named by field", async () => {
    const s = operatorClient(hub, SdwanService);
    expect(await refusalOf(s.allocateHostBridge({ nodeId: light, kind: "vxlan" }))).toEqual({
      code: Code.InvalidArgument,
      message: 'kind: "vxlan" is not linux or ovs',
    });
    expect((await refusalOf(s.allocateHostBridge({ nodeId: "nope" })))?.message).toStartWith("node_id:");
    expect(await refusalOf(s.drainHostBridge({ bridgeId: "7b0d2e43-7c1a-4a38-9f7e-0a0b0c0d0e0f" }))).toEqual({
      code: Code.NotFound,
      message: "bridge_id: no host bridge 7b0d2e43-7c1a-4a38-9f7e-0a0b0c0d0e0f",
    });
  });
});

describe("IPFIX collectors", () => {
  test("an enabled collector stamps active OVS bridges only; disabled it goes, enabled it comes back", async () => {
    const s = operatorClient(hub, SdwanService);
    const ovs = async () => (await sectionOf(heavy)).find((b) => b.kind === "ovs");
    const linux = async () => (await sectionOf(heavy)).find((b) => b.kind === "linux");
    expect((await ovs())?.ipfix).toBeUndefined();
    const c = await s.createIpfixCollector({ name: "lab", host: "10.0.0.1", sampling: 64 });
    expect(c.collector).toMatchObject({ port: 4739, enabled: true, target: "10.0.0.1:4739" });
    expect((await ovs())?.ipfix).toMatchObject({ targets: ["10.0.0.1:4739"], sampling: 64 });
    expect((await linux())?.ipfix).toBeUndefined();
    await s.setIpfixCollectorEnabled({ collector: "lab", enabled: false });
    expect((await ovs())?.ipfix).toBeUndefined();
    await s.setIpfixCollectorEnabled({ collector: "lab", enabled: true });
    expect((await ovs())?.ipfix?.targets).toEqual(["10.0.0.1:4739"]);
    await s.deleteIpfixCollector({ collector: "lab" });
    const v6 = await s.createIpfixCollector({ name: "lab6", host: "[fd00::1]" });
    expect(v6.collector?.target).toBe("[fd00::1]:4739");
    expect((await ovs())?.ipfix).toMatchObject({ targets: ["[fd00::1]:4739"], sampling: 64 });
    expect(await eventsOf(EVENTS.sdwanIpfixCollectorAttached.kind)).toHaveLength(3);
    await s.deleteIpfixCollector({ collector: "lab6" });
  });

  test("bad collectors are refused naming the field", async () => {
    const s = operatorClient(hub, SdwanService);
    expect((await refusalOf(s.createIpfixCollector({ name: "x", host: "a b" })))?.message).toBe(
      'host: "a b" is not an address or host name',
    );
    expect((await refusalOf(s.createIpfixCollector({ name: "x", host: "h", port: 70000 })))?.message).toBe(
      "port: must be 1 to 65535",
    );
    expect((await refusalOf(s.createIpfixCollector({ name: "Bad", host: "h" })))?.code).toBe(
      Code.InvalidArgument,
    );
    await s.createIpfixCollector({ name: "dup", host: "h" });
    expect((await refusalOf(s.createIpfixCollector({ name: "dup", host: "h" })))?.code).toBe(
      Code.AlreadyExists,
    );
    expect((await refusalOf(s.setIpfixCollectorEnabled({ collector: "none", enabled: true })))?.code).toBe(
      Code.NotFound,
    );
  });
});

describe("OVS segments", () => {
  test("two nodes' OVS bridges get a tunnel each way when they join a full mesh; none between two spokes", async () => {
    const s = operatorClient(hub, SdwanService);
    const net = operatorClient(hub, NetworkService);
    const a = (await enrollTestNode(hub, "seg-a")).id;
    const b = (await enrollTestNode(hub, "seg-b")).id;
    for (const id of [a, b]) await s.allocateHostBridge({ nodeId: id, kind: "ovs" });
    const tunnels = async (id: string) =>
      (await sectionOf(id)).find((x) => x.kind === "ovs")?.tunnels.map((t) => t.peerNodeId) ?? [];
    await net.createNetwork({ name: "seg-spokes", topology: MeshTopology.HUB_AND_SPOKE });
    for (const id of [a, b]) await net.joinNetwork({ network: "seg-spokes", nodeId: id });
    expect([await tunnels(a), await tunnels(b)]).toEqual([[], []]);
    await net.createNetwork({ name: "seg-mesh" });
    await net.joinNetwork({ network: "seg-mesh", nodeId: a });
    await net.joinNetwork({ network: "seg-mesh", nodeId: b });
    // b's join recompiled a too: both sides have the tunnel.
    expect([await tunnels(a), await tunnels(b)]).toEqual([[b], [a]]);
    await net.leaveNetwork({ network: "seg-mesh", nodeId: b });
    expect(await tunnels(a)).toEqual([]);
  });
});

describe("the hub's IPFIX collector", () => {
  test("Open vSwitch's own messages over UDP are counted for the node of their observation domain", async () => {
    const s = operatorClient(hub, SdwanService);
    const listen = (await s.listIpfixFlows({})).receiver?.listen ?? "";
    const port = Number(listen.slice(listen.lastIndexOf(":") + 1));
    expect(port).toBeGreaterThan(0);
    const domain = observationDomain(heavy);
    // The capture's bridge domain (7) becomes the heavyweight node's; domain 0 stays the exporter's.
    const messages = readFileSync(join(import.meta.dir, "testdata/ovs-3.1-ipfix.hex"), "utf8")
      .split("\n")
      .filter((l) => l !== "" && !l.startsWith("#"))
      .map((l) => {
        const b = Buffer.from(l, "hex");
        if (b.readUInt32BE(12) === 7) b.writeUInt32BE(domain, 12);
        return b;
      });
    const sock = await Bun.udpSocket({});
    for (const m of messages) sock.send(m, port, "127.0.0.1");
    // A stranger's domain and a datagram that is not IPFIX: counted, attributed to no node.
    const stranger = Buffer.from(messages[2] ?? []);
    stranger.writeUInt32BE((domain + 1) >>> 0, 12);
    sock.send(stranger, port, "127.0.0.1");
    sock.send(Buffer.from("not ipfix"), port, "127.0.0.1");
    const got = await waitUntil(async () => {
      const r = await s.listIpfixFlows({ nodeId: heavy });
      // Counted on arrival, attributed once the domain is resolved (a database read): wait for both.
      const done =
        (r.receiver?.messages ?? 0n) >= BigInt(messages.length + 2) &&
        r.receiver?.unknownDomain === 1n &&
        r.nodes[0]?.messages === BigInt(messages.filter((m) => m.readUInt32BE(12) === domain).length);
      return done ? r : undefined;
    });
    sock.close();
    expect(got.nodes).toHaveLength(1);
    const n = got.nodes[0];
    expect(n).toMatchObject({ nodeId: heavy, observationDomainId: domain });
    expect(n?.records).toBeGreaterThan(0n);
    expect(n?.recent[0]).toMatchObject({ protocol: 58, ethernetType: 0x86dd });
    expect(got.receiver?.unknownDomain).toBe(1n);
    expect(got.receiver?.rejected).toBe(1n);
    expect((await s.listIpfixFlows({ nodeId: light })).nodes).toEqual([]);
    expect((await refusalOf(s.listIpfixFlows({ nodeId: "x" })))?.code).toBe(Code.InvalidArgument);
  });
});

async function waitUntil<T>(f: () => Promise<T | undefined>, ms = 5000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`not within ${ms} ms`);
    await Bun.sleep(50);
  }
}

describe("VRFs and route leaks", () => {
  test("a VRF needs membership; bad leaks and AS numbers are refused naming the field", async () => {
    const s = operatorClient(hub, SdwanService);
    const net = operatorClient(hub, NetworkService);
    await net.createNetwork({ name: "sd-vrf-a" });
    await net.createNetwork({ name: "sd-vrf-b" });
    expect(await refusalOf(s.allocateVrf({ nodeId: light, network: "sd-vrf-a" }))).toEqual({
      code: Code.FailedPrecondition,
      message: `node_id: ${light} is not a member of network sd-vrf-a`,
    });
    await net.joinNetwork({ network: "sd-vrf-a", nodeId: light });
    const v = await s.allocateVrf({ nodeId: light, network: "sd-vrf-a" });
    expect(v.created).toBe(true);
    expect(v.vrf).toMatchObject({ tableId: 1000, network: "sd-vrf-a" });
    expect(v.vrf?.vrfName).toMatch(/^vrf-[0-9a-f]{6}$/);
    expect(v.vrf?.asn).toBeGreaterThanOrEqual(4_200_000_000);
    // Its router address is routed to it over the network: in its peers' allowed-ips for it.
    const [m] = await hub.deps.db
      .select()
      .from(networkMembers)
      .where(and(eq(networkMembers.networkId, v.vrf?.networkId ?? ""), eq(networkMembers.instanceId, light)));
    expect((await routedByMember(hub.deps.db, v.vrf?.networkId ?? "")).get(m?.id ?? "")).toEqual([
      v.vrf?.routerAddress ?? "-",
    ]);
    expect((await s.setNetworkBgpAsn({ network: "sd-vrf-a", asn: 65001 })).asn).toBe(65001);
    expect((await s.listVrfs({ nodeId: light })).vrfs[0]?.asn).toBe(65001);
    expect(await s.setNetworkBgpAsn({ network: "sd-vrf-a", asn: 0 })).toMatchObject({ derived: true });
    expect((await refusalOf(s.setNetworkBgpAsn({ network: "sd-vrf-a", asn: 4_294_967_295 })))?.message).toBe(
      "asn: 4294967295 is not 1 to 4294967294 (0: derived)",
    );
    expect(
      (
        await refusalOf(
          s.createRouteLeak({ fromNetwork: "sd-vrf-a", toNetwork: "sd-vrf-a", prefix: "fd00::/64" }),
        )
      )?.message,
    ).toBe("to_network: the same network as from_network");
    expect(
      (
        await refusalOf(
          s.createRouteLeak({ fromNetwork: "sd-vrf-a", toNetwork: "sd-vrf-b", prefix: "10.0.0.0/8" }),
        )
      )?.message,
    ).toBe('prefix: "10.0.0.0/8" is not an IPv6 prefix (addr/len)');
    expect(
      (
        await refusalOf(
          s.createRouteLeak({ fromNetwork: "nope", toNetwork: "sd-vrf-b", prefix: "fd00::/64" }),
        )
      )?.code,
    ).toBe(Code.NotFound);
    const leak = await s.createRouteLeak({
      fromNetwork: "sd-vrf-a",
      toNetwork: "sd-vrf-b",
      prefix: "FD00::/64",
    });
    expect(leak.leak).toMatchObject({ prefix: "fd00::/64", state: "active" });
    expect((await s.revokeRouteLeak({ leakId: leak.leak?.id ?? "" })).leak?.state).toBe("revoked");
    expect((await s.listRouteLeaks({})).leaks).toHaveLength(1);
  });
});

describe("OVN", () => {
  test("deployments, switches, ports and ACLs refuse bad input naming the field; states move in order", async () => {
    const s = operatorClient(hub, SdwanService);
    await operatorClient(hub, NetworkService).createNetwork({ name: "sd-ovn" });
    const base = {
      name: "d1",
      nbEndpoint: "tcp:10.0.0.1:6641",
      sbEndpoint: "tcp:10.0.0.1:6642",
      northdHost: "c1",
      network: "sd-ovn",
    };
    expect((await refusalOf(s.createOvnDeployment({ ...base, sbEndpoint: "10.0.0.1:6642" })))?.message).toBe(
      'sb_endpoint: "10.0.0.1:6642" is not tcp:HOST:PORT or ssl:HOST:PORT',
    );
    expect((await s.createOvnDeployment(base)).deployment?.state).toBe("bootstrapping");
    expect((await refusalOf(s.createOvnDeployment(base)))?.code).toBe(Code.AlreadyExists);
    expect(await refusalOf(s.setOvnDeploymentState({ deployment: "d1", state: "degraded" }))).toEqual({
      code: Code.FailedPrecondition,
      message: "state: d1 is bootstrapping; it can become active",
    });
    expect(
      (await refusalOf(s.createLogicalSwitch({ deployment: "d1", name: "ls", subnet: "10.0.0.0/33" })))
        ?.message,
    ).toBe('subnet: "10.0.0.0/33" is not a CIDR (addr/len)');
    await s.createLogicalSwitch({ deployment: "d1", name: "ls", subnet: "10.0.0.0/24" });
    const port = {
      deployment: "d1",
      switch: "ls",
      name: "p1",
      kind: "vm",
      nodeId: light,
      router: "",
      address: "fd00::1",
    };
    expect((await refusalOf(s.createLogicalPort(port)))?.message).toBe(
      'address: "fd00::1" is not an IPv4 address (the switch\'s subnet is 10.0.0.0/24)',
    );
    expect(
      (await refusalOf(s.createLogicalPort({ ...port, kind: "router", router: "none", address: "10.0.0.1" })))
        ?.code,
    ).toBe(Code.NotFound);
    expect((await s.createLogicalPort({ ...port, address: "10.0.0.5" })).port?.mac).toMatch(
      /^02(:[0-9a-f]{2}){5}$/,
    );
    const acl = {
      deployment: "d1",
      switch: "ls",
      direction: "to-lport",
      priority: 100,
      match: "ip4",
      action: "drop",
    };
    expect((await refusalOf(s.createOvnAcl({ ...acl, match: 'ip4 && "x"' })))?.message).toStartWith("match:");
    expect((await refusalOf(s.createOvnAcl({ ...acl, action: "permit" })))?.message).toStartWith(
      'action: "permit"',
    );
    await s.createOvnAcl(acl);
    const plan = await s.getOvnPlan({ deployment: "d1" });
    expect(plan.commands.map((c) => c.argv[1] ?? c.argv[0])).toContain("acl-add");
  });

  test("the member at the NB endpoint's address gets ovn_central with the plan; a port's node gets it in ovn_control", async () => {
    const s = operatorClient(hub, SdwanService);
    const net = operatorClient(hub, NetworkService);
    await net.createNetwork({ name: "sd-ovn2" });
    for (const id of [light, heavy]) await net.joinNetwork({ network: "sd-ovn2", nodeId: id });
    const address = (await net.listMembers({ network: "sd-ovn2" })).members.find(
      (m) => m.nodeId === heavy,
    )?.address;
    await s.createOvnDeployment({
      name: "d2",
      nbEndpoint: `tcp:[${address}]:6641`,
      sbEndpoint: `tcp:[${address}]:6642`,
      northdHost: "heavy",
      network: "sd-ovn2",
    });
    await s.setOvnDeploymentState({ deployment: "d2", state: "active" });
    await s.createLogicalSwitch({ deployment: "d2", name: "ls2", subnet: "10.9.0.0/24" });
    await s.createLogicalPort({
      deployment: "d2",
      switch: "ls2",
      name: "p2",
      kind: "vm",
      nodeId: heavy,
      address: "10.9.0.7",
    });
    const doc = async (id: string) => (await getDesiredState(hub.deps.db, id)).sdwan;
    const central = (await doc(heavy))?.ovnCentral;
    expect(central).toMatchObject({
      deployment: "d2",
      nbListen: `ptcp:6641:[${address}]`,
      sbListen: `ptcp:6642:[${address}]`,
    });
    const plan = await s.getOvnPlan({ deployment: "d2" });
    expect(central?.planSha256).toBe(plan.sha256);
    expect(central?.plan.map((c) => c.args)).toEqual(plan.commands.map((c) => c.argv));
    expect((await doc(light))?.ovnCentral).toBeUndefined();
    const ports = (await doc(heavy))?.ovnControl?.ports ?? [];
    expect(ports).toHaveLength(1);
    expect(ports[0]).toMatchObject({ name: "p2", address: "10.9.0.7/24" });
    expect(ports[0]?.interfaceName).toMatch(/^ovn-[0-9a-f]{10}$/);
    expect(ports[0]?.mac).toMatch(/^02:/);
  });
});
