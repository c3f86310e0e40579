/** The sdwan controller against a fake of the kernel's bridges: what it makes, deletes and reports. */
import { expect, test } from "bun:test";
import { create } from "@bufbuild/protobuf";
import { DesiredStateSchema, EVENTS } from "@powernode/proto";
import { assertResource, startTestEngine } from "../../../test/engine-harness.ts";
import { createSystemClock } from "../../runtime/clock.ts";
import { ControllerStatus } from "../../runtime/engine.ts";
import { createPhaseRecorder } from "../../runtime/phases.ts";
import type { Bridges } from "../../sys/bridge.ts";
import type { FrrOs } from "../../sys/frr.ts";
import type { OvsOs } from "../../sys/ovs.ts";
import type { Vrfs } from "../../sys/vrf.ts";
import type { AgentDeps } from "../deps.ts";
import { DesiredNodeState, ModuleSetStatus, SdwanStatus } from "../resources.ts";
import { sdwanController } from "./sdwan-controller.ts";

function fakeBridges(present: string[]) {
  const have = new Set(present);
  const calls: string[] = [];
  const os: Bridges = {
    list: () => [...have].sort(),
    async add(name) {
      calls.push(`add ${name}`);
      have.add(name);
    },
    async del(name) {
      calls.push(`del ${name}`);
      have.delete(name);
    },
  };
  return { os, calls, have };
}

const state = (version: bigint, bridges: object[]) =>
  create(DesiredStateSchema, { version, sdwan: { bridges } });

test("linux bridges made and reported; an OVS bridge not applied; draining deleted; foreign bridges kept", async () => {
  const f = fakeBridges(["docker0"]);
  const phases = createPhaseRecorder(createSystemClock());
  const deps = { phases } as unknown as AgentDeps;
  await using engine = startTestEngine(
    [sdwanController({ ...deps, bridges: f.os })],
    [
      {
        type: DesiredNodeState,
        id: "node",
        spec: state(2n, [
          { id: "a", shortId: 1, name: "pwnbr-1", kind: "linux", state: "active" },
          { id: "b", shortId: 2, name: "pwnbr-2", kind: "ovs", state: "active" },
        ]),
      },
    ],
  );
  await assertResource(engine, SdwanStatus, "node", {
    bridges: [
      { name: "pwnbr-1", kind: "linux", state: "active", present: true },
      { name: "pwnbr-2", kind: "ovs", state: "active", present: false },
    ],
    vrfs: [],
    routing: [],
  });
  expect(f.calls).toEqual(["add pwnbr-1"]);
  expect(
    phases
      .all()
      .filter((p) => p.kind === EVENTS.sdwanBridgeUp.kind)
      .map((p) => p.payload),
  ).toEqual([{ bridge: "pwnbr-1", kind: "linux" }]);
  engine.store.set(
    DesiredNodeState,
    "node",
    state(3n, [{ id: "a", shortId: 1, name: "pwnbr-1", kind: "linux", state: "draining" }]),
  );
  await assertResource(engine, SdwanStatus, "node", {
    bridges: [{ name: "pwnbr-1", kind: "linux", state: "draining", present: false }],
    vrfs: [],
    routing: [],
  });
  expect(f.calls).toEqual(["add pwnbr-1", "del pwnbr-1"]);
  expect(phases.all().filter((p) => p.kind === EVENTS.sdwanBridgeDeleted.kind)).toHaveLength(1);
  expect(f.have.has("docker0")).toBe(true);
});

test("a VRF is made, the network's interface enslaved once it exists, and a stale one deleted", async () => {
  const links = new Set(["eth0", "vrf-dddddd"]);
  const masters = new Map<string, string>();
  const addrs = new Map<string, string[]>();
  const calls: string[] = [];
  const vrfs: Vrfs = {
    links: () => [...links].sort(),
    masterOf: (d) => masters.get(d),
    async add(name, table) {
      calls.push(`add ${name} ${table}`);
      links.add(name);
    },
    async enslave(dev, vrf) {
      calls.push(`enslave ${dev} ${vrf}`);
      masters.set(dev, vrf);
    },
    async del(name) {
      calls.push(`del ${name}`);
      links.delete(name);
    },
    addresses: (d) => addrs.get(d) ?? [],
    async addAddress(dev, address, _len) {
      calls.push(`addr ${dev} ${address}`);
      addrs.set(dev, [...(addrs.get(dev) ?? []), address]);
    },
  };
  const phases = createPhaseRecorder(createSystemClock());
  const deps = { phases } as unknown as AgentDeps;
  const vrf = {
    vrfName: "vrf-aaaaaa",
    tableId: 1000,
    interfaceName: "wg-sdwan-aaaaaa",
    routerAddress: "fd12:3456:789a:bcde::1",
  };
  await using engine = startTestEngine(
    [sdwanController({ ...deps, bridges: fakeBridges([]).os, vrfs })],
    [
      {
        type: DesiredNodeState,
        id: "node",
        spec: create(DesiredStateSchema, { version: 2n, sdwan: { vrfs: [vrf] } }),
      },
    ],
  );
  await assertResource(engine, SdwanStatus, "node", {
    bridges: [],
    vrfs: [{ name: "vrf-aaaaaa", table: 1000, interface: "wg-sdwan-aaaaaa", enslaved: false }],
    routing: [],
  });
  expect(calls).toEqual(["add vrf-aaaaaa 1000", "addr vrf-aaaaaa fd12:3456:789a:bcde::1", "del vrf-dddddd"]);
  // The mesh controller makes the interface: the next pass enslaves it.
  links.add("wg-sdwan-aaaaaa");
  engine.store.set(
    DesiredNodeState,
    "node",
    create(DesiredStateSchema, { version: 3n, sdwan: { vrfs: [vrf] } }),
  );
  await assertResource(engine, SdwanStatus, "node", {
    bridges: [],
    vrfs: [{ name: "vrf-aaaaaa", table: 1000, interface: "wg-sdwan-aaaaaa", enslaved: true }],
    routing: [],
  });
  expect(calls.at(-1)).toBe("enslave wg-sdwan-aaaaaa vrf-aaaaaa");
  // With an frr.conf but no FRR on the OS side, the condition says so.
  engine.store.set(
    DesiredNodeState,
    "node",
    create(DesiredStateSchema, {
      version: 4n,
      sdwan: { vrfs: [vrf], frrConfig: "router bgp 1 vrf vrf-aaaaaa\n" },
    }),
  );
  await assertResource(engine, ControllerStatus, "sdwan", (c) => c.message.includes("no FRR support"));
  expect(engine.store.get(ControllerStatus, "sdwan")?.spec.ok).toBe(false);
  expect(
    phases
      .all()
      .filter((p) => p.kind === EVENTS.sdwanVrfRouted.kind)
      .map((p) => p.payload),
  ).toEqual([{ vrf: "vrf-aaaaaa", interface: "wg-sdwan-aaaaaa" }]);
});

/** Polls `ok` (FRR's fake changes nothing the engine watches). */
async function until(ok: () => boolean, timeoutMs = 3000) {
  const end = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`not reached after ${timeoutMs} ms`);
    await Bun.sleep(10);
  }
}

/** FRR's side as a fake: daemons as processes with pids, vtysh answering from `answers`. */
function fakeFrr(root: string) {
  const calls: string[] = [];
  let nextPid = 100;
  const live = new Map<number, () => void>();
  let config = "";
  const answers: Record<string, string> = {
    "show bgp vrf all ipv6 unicast summary json": JSON.stringify({
      "vrf-aaaaaa": { peers: { "fd12::2": { state: "Established" } } },
    }),
    "show ipv6 route vrf vrf-aaaaaa json": JSON.stringify({
      "fdab::2/128": [{ protocol: "bgp", installed: true, table: 1000, nexthops: [{ ip: "fd12::2" }] }],
    }),
  };
  const os: FrrOs = {
    hasFrr: (r) => r === root,
    prepare: () => {},
    writeConfig(_r, text) {
      if (text === config) return false;
      config = text;
      return true;
    },
    ready: async (_r, _d, pid) => live.has(pid),
    async vtysh(_r, argv) {
      const cmd = argv.slice(1).join(" ");
      calls.push(`vtysh ${cmd}`);
      return answers[argv[2] ?? ""] ?? "";
    },
    spawnService(o) {
      const pid = nextPid++;
      calls.push(`spawn ${o.argv[0]?.split("/").pop()} ${pid}`);
      let done: (code: number) => void = () => {};
      const exited = new Promise<number>((r) => (done = r));
      live.set(pid, () => done(143));
      return {
        pid,
        exited,
        kill: () => {
          calls.push(`kill ${pid}`);
          live.get(pid)?.();
          live.delete(pid);
        },
      };
    },
  };
  return { os, calls, answers };
}

test("FRR: zebra and bgpd run with the section's frr.conf, routes read back; a change restarts bgpd; no config stops both", async () => {
  const root = "/run/powernode/root";
  const f = fakeFrr(root);
  const phases = createPhaseRecorder(createSystemClock());
  const deps = { phases } as unknown as AgentDeps;
  const vrf = { vrfName: "vrf-aaaaaa", tableId: 1000, interfaceName: "wg-sdwan-aaaaaa" };
  const vrfs: Vrfs = {
    links: () => ["vrf-aaaaaa", "wg-sdwan-aaaaaa"],
    masterOf: () => "vrf-aaaaaa",
    add: async () => {},
    enslave: async () => {},
    del: async () => {},
    addresses: () => [],
    addAddress: async () => {},
  };
  const withConfig = (version: bigint, frrConfig: string) =>
    create(DesiredStateSchema, { version, sdwan: { vrfs: [vrf], frrConfig } });
  await using engine = startTestEngine(
    [sdwanController({ ...deps, bridges: fakeBridges([]).os, vrfs, frr: f.os })],
    [
      { type: DesiredNodeState, id: "node", spec: withConfig(2n, "router bgp 1 vrf vrf-aaaaaa\n") },
      { type: ModuleSetStatus, id: "node", spec: { observations: [], appliedVersion: 2n, root } },
    ],
  );
  await assertResource(engine, SdwanStatus, "node", (s) => s.routing.length === 1);
  expect(engine.store.get(SdwanStatus, "node")?.spec.routing).toEqual([
    {
      vrf: "vrf-aaaaaa",
      established: ["fd12::2"],
      learned: ["fdab::2/128"],
      imported: [],
      hops: ["fdab::2/128 via fd12::2 dev -"],
    },
  ]);
  expect(f.calls.slice(0, 3)).toEqual(["spawn zebra 100", "spawn bgpd 101", "vtysh -b"]);
  const kinds = (k: string) =>
    phases
      .all()
      .filter((p) => p.kind === k)
      .map((p) => p.payload);
  expect(kinds(EVENTS.sdwanBgpRoutes.kind)).toEqual([
    { vrf: "vrf-aaaaaa", established: "fd12::2", learned: "fdab::2/128", imported: "" },
  ]);
  expect(kinds(EVENTS.sdwanFrrApplied.kind)).toEqual([{ sha256: expect.any(String), reason: "started" }]);
  // A leak revoked on the hub: a new frr.conf restarts bgpd only, then pushes it.
  f.calls.length = 0;
  engine.store.set(DesiredNodeState, "node", withConfig(3n, "router bgp 1 vrf vrf-aaaaaa\n!\n"));
  await until(() => f.calls.includes("vtysh -b"));
  expect(f.calls.slice(0, 3)).toEqual(["kill 101", "spawn bgpd 102", "vtysh -b"]);
  expect(kinds(EVENTS.sdwanFrrApplied.kind).at(-1)).toEqual({
    sha256: expect.any(String),
    reason: "changed",
  });
  // No VRFs left: no frr.conf, FRR stops.
  f.calls.length = 0;
  engine.store.set(DesiredNodeState, "node", create(DesiredStateSchema, { version: 4n, sdwan: {} }));
  await until(() => f.calls.length >= 2);
  expect(f.calls).toEqual(["kill 102", "kill 100"]);
});

test("FRR: without the frr module in the root the condition names it and nothing starts", async () => {
  const f = fakeFrr("/elsewhere");
  const phases = createPhaseRecorder(createSystemClock());
  const deps = { phases } as unknown as AgentDeps;
  await using engine = startTestEngine(
    [sdwanController({ ...deps, bridges: fakeBridges([]).os, frr: f.os })],
    [
      {
        type: DesiredNodeState,
        id: "node",
        spec: create(DesiredStateSchema, { version: 2n, sdwan: { frrConfig: "router bgp 1\n" } }),
      },
      { type: ModuleSetStatus, id: "node", spec: { observations: [], appliedVersion: 2n, root: "/r" } },
    ],
  );
  await assertResource(engine, ControllerStatus, "sdwan", (c) =>
    c.message.includes("missing /usr/lib/frr/bgpd (assign the frr module)"),
  );
  expect(f.calls).toEqual([]);
});

/** An in-memory OVS database that takes the commands ovs-plan.ts writes and lists like ovs-vsctl. */
function fakeOvs(root: string) {
  const bridges = new Map<
    string,
    { ports: string[]; ipfix?: { targets: string[]; sampling: number; domain: number } }
  >();
  const ifaces = new Map<string, { type: string; options: Record<string, string> }>();
  const calls: string[] = [];
  const opts = (args: string[]) =>
    Object.fromEntries(
      args.filter((a) => a.startsWith("options:")).map((a) => a.slice(8).split("=") as [string, string]),
    );
  const uuid = (x: string) => ["uuid", x];
  const table = (name: string) => {
    if (name === "bridge")
      return {
        headings: ["_uuid", "name", "ports", "ipfix"],
        data: [...bridges].map(([n, b]) => [
          uuid(n),
          n,
          ["set", b.ports.map(uuid)],
          b.ipfix ? uuid(`ipfix-${n}`) : ["set", []],
        ]),
      };
    if (name === "port")
      return {
        headings: ["_uuid", "name"],
        data: [...bridges.values()].flatMap((b) => b.ports.map((p) => [uuid(p), p])),
      };
    if (name === "interface")
      return {
        headings: ["_uuid", "name", "type", "options"],
        data: [...ifaces].map(([n, i]) => [uuid(n), n, i.type, ["map", Object.entries(i.options)]]),
      };
    return {
      headings: ["_uuid", "targets", "sampling", "obs_domain_id"],
      data: [...bridges]
        .filter(([, b]) => b.ipfix)
        .map(([n, b]) => [uuid(`ipfix-${n}`), ["set", b.ipfix?.targets], b.ipfix?.sampling, b.ipfix?.domain]),
    };
  };
  const addresses: string[] = [];
  let nextPid = 200;
  const os: OvsOs = {
    hasOvs: (r) => r === root,
    prepare: async () => {
      calls.push("prepare");
    },
    ready: async () => true,
    async vsctl(_r, args) {
      const a = [...args];
      if (a[0] === "--format=json") return JSON.stringify(table(a[2] ?? ""));
      calls.push(a.join(" "));
      if (a[1] === "add-br") {
        bridges.set(a[2] ?? "", { ports: [a[2] ?? ""] });
        ifaces.set(a[2] ?? "", { type: "internal", options: {} });
      } else if (a[1] === "add-port") {
        bridges.get(a[2] ?? "")?.ports.push(a[3] ?? "");
        ifaces.set(a[3] ?? "", { type: "vxlan", options: opts(a) });
      } else if (a[0] === "set" && a[1] === "interface")
        ifaces.set(a[2] ?? "", { type: "vxlan", options: opts(a) });
      else if (a[2] === "create") {
        const val = (k: string) => a.find((x) => x.startsWith(`${k}=`))?.slice(k.length + 1) ?? "";
        const b = bridges.get(a[10] ?? "");
        if (b)
          b.ipfix = {
            targets: JSON.parse(val("targets")) as string[],
            sampling: Number(val("sampling")),
            domain: Number(val("obs_domain_id")),
          };
      } else if (a[0] === "clear") delete bridges.get(a[2] ?? "")?.ipfix;
      else if (a[1] === "del-br") bridges.delete(a[2] ?? "");
      return "";
    },
    linkUp: async () => {},
    has: (r) => r === root,
    async ensureAddress(dev, cidr) {
      addresses.push(`${dev} ${cidr}`);
    },
    createDb: async () => {},
    makeDirs: () => {},
    run: async () => "",
    listening: async () => true,
    spawnService(o) {
      const pid = nextPid++;
      calls.push(`spawn ${o.argv[0]?.split("/").pop()}`);
      let done: (code: number) => void = () => {};
      const exited = new Promise<number>((r) => (done = r));
      return {
        pid,
        exited,
        kill: () => {
          calls.push(`kill ${pid}`);
          done(143);
        },
      };
    },
  };
  return { os, calls, bridges, addresses };
}

test("OVS: the daemons start, the bridge, its tunnel and IPFIX are set, the address put on; a drained bridge deleted", async () => {
  const root = "/run/powernode/root";
  const f = fakeOvs(root);
  const phases = createPhaseRecorder(createSystemClock());
  const deps = { phases } as unknown as AgentDeps;
  const put: string[] = [];
  const vrfs = {
    links: () => [],
    masterOf: () => undefined,
    add: async () => {},
    enslave: async () => {},
    del: async () => {},
    addresses: () => [],
    addAddress: async (dev: string, a: string, len: number) => {
      put.push(`${dev} ${a}/${len}`);
    },
  } satisfies Vrfs;
  const ovsBridge = (state: string) => ({
    id: "b",
    shortId: 2,
    name: "pwnbr-2",
    kind: "ovs",
    state,
    address: "fd00:1:2:2::a/64",
    tunnels: [{ name: "vx0123456789ab", remoteIp: "fd00::2", localIp: "fd00::1", key: 2 }],
    ipfix: { targets: ["10.0.2.2:4739"], sampling: 1, observationDomainId: 77 },
  });
  await using engine = startTestEngine(
    [sdwanController({ ...deps, bridges: fakeBridges([]).os, vrfs, ovs: f.os })],
    [
      { type: DesiredNodeState, id: "node", spec: state(2n, [ovsBridge("active")]) },
      { type: ModuleSetStatus, id: "node", spec: { observations: [], appliedVersion: 2n, root } },
    ],
  );
  await assertResource(engine, SdwanStatus, "node", (s) => s.bridges[0]?.present === true);
  expect(f.calls.slice(0, 4)).toEqual([
    "prepare",
    "spawn ovsdb-server",
    "--no-wait init",
    "spawn ovs-vswitchd",
  ]);
  expect(f.bridges.get("pwnbr-2")).toEqual({
    ports: ["pwnbr-2", "vx0123456789ab"],
    ipfix: { targets: ["10.0.2.2:4739"], sampling: 1, domain: 77 },
  });
  expect(f.addresses).toContain("pwnbr-2 fd00:1:2:2::a/64");
  const kinds = (k: string) =>
    phases
      .all()
      .filter((p) => p.kind === k)
      .map((p) => p.payload);
  expect(kinds(EVENTS.sdwanBridgeUp.kind)).toEqual([{ bridge: "pwnbr-2", kind: "ovs" }]);
  expect(kinds(EVENTS.sdwanOvsApplied.kind)).toEqual([
    { commands: "3", bridges: "pwnbr-2", tunnels: "1", ipfix: "10.0.2.2:4739" },
  ]);
  engine.store.set(DesiredNodeState, "node", state(3n, [ovsBridge("draining")]));
  await until(() => !f.bridges.has("pwnbr-2"));
  await until(() => kinds(EVENTS.sdwanBridgeDeleted.kind).length === 1);
  expect(kinds(EVENTS.sdwanBridgeDeleted.kind)).toEqual([{ bridge: "pwnbr-2", kind: "ovs" }]);
  // Nothing of OVS left in the section: the daemons stop.
  engine.store.set(DesiredNodeState, "node", state(4n, []));
  await until(() => f.calls.filter((c) => c.startsWith("kill")).length === 2);
});

test("OVS: without the openvswitch module in the root the condition names it and nothing starts", async () => {
  const f = fakeOvs("/elsewhere");
  const phases = createPhaseRecorder(createSystemClock());
  await using engine = startTestEngine(
    [sdwanController({ ...({ phases } as unknown as AgentDeps), bridges: fakeBridges([]).os, ovs: f.os })],
    [
      {
        type: DesiredNodeState,
        id: "node",
        spec: state(2n, [{ id: "b", shortId: 2, name: "pwnbr-2", kind: "ovs", state: "active" }]),
      },
      { type: ModuleSetStatus, id: "node", spec: { observations: [], appliedVersion: 2n, root: "/r" } },
    ],
  );
  await assertResource(engine, ControllerStatus, "sdwan", (c) =>
    c.message.includes("missing /usr/lib/openvswitch-switch/ovs-vswitchd (assign the openvswitch module)"),
  );
  expect(f.calls).toEqual([]);
});
