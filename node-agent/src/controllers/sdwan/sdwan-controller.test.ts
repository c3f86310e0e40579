/** The sdwan controller against a fake of the kernel's bridges: what it makes, deletes and reports. */
import { expect, test } from "bun:test";
import { create } from "@bufbuild/protobuf";
import { DesiredStateSchema, EVENTS } from "@powernode/proto";
import { assertResource, startTestEngine } from "../../../test/engine-harness.ts";
import { createSystemClock } from "../../runtime/clock.ts";
import { ControllerStatus } from "../../runtime/engine.ts";
import { createPhaseRecorder } from "../../runtime/phases.ts";
import type { Bridges } from "../../sys/bridge.ts";
import type { Vrfs } from "../../sys/vrf.ts";
import type { AgentDeps } from "../deps.ts";
import { DesiredNodeState, SdwanStatus } from "../resources.ts";
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
  });
  expect(f.calls).toEqual(["add pwnbr-1", "del pwnbr-1"]);
  expect(phases.all().filter((p) => p.kind === EVENTS.sdwanBridgeDeleted.kind)).toHaveLength(1);
  expect(f.have.has("docker0")).toBe(true);
});

test("a VRF is made, the network's interface enslaved once it exists, and a stale one deleted", async () => {
  const links = new Set(["eth0", "vrf-dddddd"]);
  const masters = new Map<string, string>();
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
  };
  const phases = createPhaseRecorder(createSystemClock());
  const deps = { phases } as unknown as AgentDeps;
  const vrf = { vrfName: "vrf-aaaaaa", tableId: 1000, interfaceName: "wg-sdwan-aaaaaa" };
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
  });
  expect(calls).toEqual(["add vrf-aaaaaa 1000", "del vrf-dddddd"]);
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
  });
  expect(calls.at(-1)).toBe("enslave wg-sdwan-aaaaaa vrf-aaaaaa");
  // With an frr.conf in the section the condition says it is not applied (no FRR on nodes yet).
  engine.store.set(
    DesiredNodeState,
    "node",
    create(DesiredStateSchema, {
      version: 4n,
      sdwan: { vrfs: [vrf], frrConfig: "router bgp 1 vrf vrf-aaaaaa\n" },
    }),
  );
  await assertResource(engine, ControllerStatus, "sdwan", (c) =>
    c.message.includes("frr.conf compiled by the hub is not applied"),
  );
  expect(engine.store.get(ControllerStatus, "sdwan")?.spec.ok).toBe(false);
  expect(
    phases
      .all()
      .filter((p) => p.kind === EVENTS.sdwanVrfRouted.kind)
      .map((p) => p.payload),
  ).toEqual([{ vrf: "vrf-aaaaaa", interface: "wg-sdwan-aaaaaa" }]);
});
