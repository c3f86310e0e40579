import { expect, test } from "bun:test";
import { create } from "@bufbuild/protobuf";
import { OvnCentralSchema, OvnControlSchema } from "@powernode/proto";
import type { Log } from "../../log.ts";
import type { OvsOs } from "../../sys/ovs.ts";
import { controllerArgv, externalIds, localPortArgs, northdArgv, ovnRun } from "./ovn-run.ts";

const log = { info() {}, warn() {}, error() {}, debug() {} } as unknown as Log;

/** An OvsOs recording what OVN asks of it; br-int appears once ovn-controller was started. */
function fakeOs() {
  const calls: string[] = [];
  let controller = false;
  const ids: Record<string, string> = {};
  const ifaces = new Set<string>();
  const json = (headings: string[], data: unknown[][]) => JSON.stringify({ headings, data });
  const os = {
    has: () => true,
    makeDirs: () => {},
    createDb: async (_r: string, db: string) => {
      calls.push(`createDb ${db}`);
    },
    listening: async () => true,
    async run(_r: string, argv: readonly string[]) {
      calls.push(argv.join(" "));
      return "";
    },
    async vsctl(_r: string, args: readonly string[]) {
      const a = [...args];
      if (a.includes("open_vswitch") && a[0] === "--format=json")
        return json(["external_ids"], [[["map", Object.entries(ids)]]]);
      if (a.at(-1) === "bridge") return json(["name"], controller ? [["br-int"]] : []);
      if (a.at(-1) === "interface")
        return json(
          ["name"],
          [...ifaces].map((i) => [i]),
        );
      calls.push(`vsctl ${a.join(" ")}`);
      if (a[0] === "set")
        for (const kv of a.slice(3)) {
          const [k = "", v = ""] = kv.replace("external_ids:", "").split("=");
          ids[k] = v.replace(/^"|"$/g, "");
        }
      if (a[1] === "add-port") ifaces.add(a[3] ?? "");
      return "";
    },
    linkUp: async () => {},
    async ensureAddress(dev: string, cidr: string) {
      calls.push(`address ${dev} ${cidr}`);
    },
    spawnService(o: { argv: string[] }) {
      const name = o.argv[0]?.split("/").pop() ?? "";
      calls.push(`spawn ${name}`);
      if (name === "ovn-controller") controller = true;
      let done: (c: number) => void = () => {};
      return { pid: 1, exited: new Promise<number>((r) => (done = r)), kill: () => done(143) };
    },
  } as unknown as OvsOs;
  return { os, calls };
}

test("central: both databases made and served, northd after them, the plan applied once per sha256", async () => {
  const f = fakeOs();
  const run = ovnRun(f.os);
  const central = create(OvnCentralSchema, {
    deployment: "d",
    nbListen: "ptcp:6641:[fd00::1]",
    sbListen: "ptcp:6642:[fd00::1]",
    plan: [{ args: ["--may-exist", "ls-add", "ls"] }],
    planSha256: "abc",
  });
  expect(await run.ensureCentral("/r", central, log)).toEqual({ plan: { sha256: "abc", commands: 1 } });
  expect(f.calls).toEqual([
    "createDb /var/lib/ovn/ovnnb_db.db",
    "createDb /var/lib/ovn/ovnsb_db.db",
    "spawn ovsdb-server",
    "spawn ovsdb-server",
    "spawn ovn-northd",
    "/usr/bin/ovn-nbctl --db=unix:/var/run/ovn/ovnnb_db.sock --may-exist ls-add ls",
  ]);
  expect(await run.ensureCentral("/r", central, log)).toEqual({});
  await run.stop(log);
});

test("chassis: external_ids set, ovn-controller started, the bound port made on br-int once br-int exists", async () => {
  const f = fakeOs();
  const run = ovnRun(f.os);
  const control = create(OvnControlSchema, {
    deployment: "d",
    sbDbEndpoint: "tcp:[fd00::1]:6642",
    encapType: "geneve",
    encapIp: "fd00::2",
    systemId: "node-a",
    ports: [
      { name: "lsp-a", interfaceName: "ovn-0123456789", mac: "02:00:00:00:00:01", address: "10.7.0.2/24" },
    ],
  });
  expect(await run.ensureChassis("/r", control, log)).toEqual({ ports: ["lsp-a"] });
  expect(f.calls).toEqual([
    'vsctl set open_vswitch . external_ids:system-id="node-a" external_ids:ovn-remote="tcp:[fd00::1]:6642" external_ids:ovn-encap-type="geneve" external_ids:ovn-encap-ip="fd00::2"',
    "spawn ovn-controller",
    `vsctl ${localPortArgs(control.ports[0] ?? { name: "", interfaceName: "", mac: "" }).join(" ")}`,
    "address ovn-0123456789 10.7.0.2/24",
  ]);
  f.calls.length = 0;
  expect(await run.ensureChassis("/r", control, log)).toEqual({});
  expect(f.calls).toEqual(["address ovn-0123456789 10.7.0.2/24"]);
  await run.stop(log);
});

test("argv: northd and ovn-controller over unix sockets; the port's iface-id and MAC", () => {
  expect(northdArgv().slice(0, 3)).toEqual([
    "/usr/bin/ovn-northd",
    "--ovnnb-db=unix:/var/run/ovn/ovnnb_db.sock",
    "--ovnsb-db=unix:/var/run/ovn/ovnsb_db.sock",
  ]);
  expect(controllerArgv().slice(0, 2)).toEqual([
    "/usr/bin/ovn-controller",
    "unix:/var/run/openvswitch/db.sock",
  ]);
  expect(
    externalIds({ systemId: "n", sbDbEndpoint: "tcp:h:6642", encapType: "geneve", encapIp: "fd00::2" }),
  ).toEqual({
    "system-id": "n",
    "ovn-remote": "tcp:h:6642",
    "ovn-encap-type": "geneve",
    "ovn-encap-ip": "fd00::2",
  });
  expect(localPortArgs({ name: "lsp", interfaceName: "ovn-1", mac: "02:aa:bb:cc:dd:ee" }).slice(-3)).toEqual([
    "type=internal",
    "external_ids:iface-id=lsp",
    'mac="02:aa:bb:cc:dd:ee"',
  ]);
});
