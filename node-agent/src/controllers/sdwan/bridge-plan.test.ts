import { expect, test } from "bun:test";
import { bridgeAddArgs, linkDelArgs } from "../../sys/bridge.ts";
import { planBridges } from "./bridge-plan.ts";

test("linux bridges created or kept, draining and unnamed pwnbr bridges deleted, ovs not applied, others untouched", () => {
  expect(
    planBridges(
      [
        { name: "pwnbr-1", kind: "linux", state: "active" },
        { name: "pwnbr-2", kind: "linux", state: "active" },
        { name: "pwnbr-3", kind: "ovs", state: "active" },
        { name: "pwnbr-4", kind: "linux", state: "draining" },
        { name: "pwnbr-5", kind: "linux", state: "draining" },
      ],
      ["docker0", "pwnbr-2", "pwnbr-4", "pwnbr-9"],
    ),
  ).toEqual({
    create: ["pwnbr-1"],
    kept: ["pwnbr-2"],
    delete: ["pwnbr-4", "pwnbr-9"],
    unsupported: [{ name: "pwnbr-3", reason: "ovs bridges need Open vSwitch on the node (not built yet)" }],
  });
});

test("an empty section deletes only ours; bad names are reported, never run", () => {
  expect(planBridges([], ["br0", "pwnbr-7"]).delete).toEqual(["pwnbr-7"]);
  expect(planBridges([{ name: "eth0; rm", kind: "linux", state: "active" }], []).unsupported).toEqual([
    { name: "eth0; rm", reason: "not a pwnbr-<n> name" },
  ]);
});

test("ip argv", () => {
  expect(bridgeAddArgs("pwnbr-1")).toEqual(["link", "add", "name", "pwnbr-1", "type", "bridge"]);
  expect(linkDelArgs("pwnbr-1")).toEqual(["link", "del", "dev", "pwnbr-1"]);
  expect(() => bridgeAddArgs("a b")).toThrow("interface name");
});
