/**
 * Pass 3, db tier, the SDWAN compile checks (predecessor.md section 3 pass 3, all five seeds: 6 to 10):
 * host bridges, network profiles, OVN models, multi-VRF with FRR and route leaks, IPFIX telemetry, all
 * through pnctl against the hub, each read back from the desired state the node would receive or the
 * plan the hub compiles.
 */
import { Arch, type HostBridge } from "@powernode/proto";
import { cliFor } from "../../hub/src/cli/test-cli.ts";
import { getDesiredState } from "../../hub/src/desired-state/index.ts";
import { flowStoreOf } from "../../hub/src/sdwan/flow-store.ts";
import { buildModules } from "../lib/built-modules.ts";
import { frrChecker } from "../lib/frr-check.ts";
import type { SmokeHub } from "../lib/hub.ts";
import { createLab } from "../lib/lab.ts";
import { nbDatabase } from "../lib/ovn-check.ts";
import { hostOvs } from "../lib/ovs-check.ts";
import type { PassContext } from "../lib/pass.ts";
import { waitFor } from "../lib/wait.ts";

export async function sdwanChecks(t: PassContext, s: SmokeHub, stamp: string): Promise<void> {
  const cli = cliFor(() => s.hub);
  const pnctl = async <T>(...argv: string[]): Promise<T> => {
    const r = await cli(...argv, "--json");
    if (r.code !== 0) throw new Error(`pnctl ${argv.join(" ")}: exit ${r.code}: ${r.err}`);
    return JSON.parse(r.out) as T;
  };
  const node = async (name: string, size: { vcpus: number; memoryMib: number }) =>
    (await s.provision.createInstance({ name, arch: Arch.AMD64, provider: "none", start: false, ...size }))
      .instance?.id ?? "";
  const section = async (id: string) => (await getDesiredState(s.hub.deps.db, id)).sdwan?.bridges ?? [];
  type Bridge = Pick<HostBridge, "id" | "shortId" | "name" | "kind" | "state">;

  const [light, heavy] = await t.step(
    "a lightweight-sized and a heavyweight-sized host (provider none)",
    () =>
      Promise.all([
        node(`sdwan-light-${stamp}`, { vcpus: 1, memoryMib: 1024 }),
        node(`sdwan-heavy-${stamp}`, { vcpus: 4, memoryMib: 8192 }),
      ]),
  );

  await t.check(
    "host_bridge: pwnbr-1 linux, idempotent, compiled active; a second kind pwnbr-2; drain, remove, re-adopt",
    async () => {
      const a = await pnctl<Bridge>("sdwan", "bridge-allocate", light);
      if (a.shortId !== 1 || a.name !== "pwnbr-1" || a.kind !== "linux" || a.name.length > 15)
        throw new Error(`first allocation: ${JSON.stringify(a)}`);
      const again = await pnctl<Bridge>("sdwan", "bridge-allocate", light);
      if (again.id !== a.id) throw new Error(`not idempotent: ${again.id} != ${a.id}`);
      const compiled = await section(light);
      const c = compiled.find((b) => b.id === a.id);
      if (c?.name !== "pwnbr-1" || c.state !== "active" || c.shortId !== 1)
        throw new Error(`compiled: ${JSON.stringify(compiled)}`);
      const ovs = await pnctl<Bridge>("sdwan", "bridge-allocate", light, "--kind", "ovs");
      if (ovs.shortId !== 2 || ovs.name !== "pwnbr-2") throw new Error(`ovs: ${JSON.stringify(ovs)}`);
      if ((await pnctl<Bridge>("sdwan", "bridge-drain", ovs.id)).state !== "draining")
        throw new Error("drain");
      if ((await pnctl<Bridge>("sdwan", "bridge-rm", ovs.id)).state !== "removed") throw new Error("remove");
      if ((await section(light)).some((b) => b.id === ovs.id))
        throw new Error("a removed bridge is compiled");
      const back = await pnctl<Bridge>("sdwan", "bridge-allocate", light, "--kind", "ovs");
      if (back.id !== ovs.id || back.state !== "active") throw new Error(`re-adopt: ${JSON.stringify(back)}`);
      // Back to one bridge for the next check.
      await pnctl("sdwan", "bridge-drain", ovs.id);
      await pnctl("sdwan", "bridge-rm", ovs.id);
      return `${a.name} (${a.kind}) twice the same row; ${ovs.name} drained, removed (out of the section), re-adopted (same id)`;
    },
  );

  await t.check(
    "ovs_profile: heavyweight -> ovs, lightweight -> linux, explicit linux wins; profiles suggested without change",
    async () => {
      const suggested = {
        heavy: await pnctl<{ suggested: string; current: string }>("sdwan", "profile", heavy),
        light: await pnctl<{ suggested: string; current: string }>("sdwan", "profile", light),
      };
      if (suggested.heavy.suggested !== "heavyweight" || suggested.light.suggested !== "lightweight")
        throw new Error(`suggested: ${JSON.stringify(suggested)}`);
      if (suggested.heavy.current !== "") throw new Error("a suggestion changed the profile");
      await pnctl("k3s", "profile", heavy, "heavyweight");
      await pnctl("k3s", "profile", light, "lightweight");
      const h = await pnctl<Bridge>("sdwan", "bridge-allocate", heavy);
      const explicit = await pnctl<Bridge>("sdwan", "bridge-allocate", heavy, "--kind", "linux");
      const kinds = {
        heavy: (await section(heavy)).map((b) => b.kind).sort(),
        light: (await section(light)).map((b) => b.kind).sort(),
      };
      if (h.kind !== "ovs" || explicit.kind !== "linux")
        throw new Error(`kinds: ${h.kind}, ${explicit.kind}`);
      if (JSON.stringify(kinds) !== JSON.stringify({ heavy: ["linux", "ovs"], light: ["linux"] }))
        throw new Error(`compiled kinds: ${JSON.stringify(kinds)}`);
      return `suggested heavyweight / lightweight; compiled kinds heavy [linux, ovs], light [linux]`;
    },
  );

  await t.check(
    "ipfix_telemetry: no collector, no ipfix; a collector stamps the ovs bridge only; [v6]:port; disable/enable",
    async () => {
      const ipfixOf = async (kind: string) => (await section(heavy)).find((b) => b.kind === kind)?.ipfix;
      if (await ipfixOf("ovs")) throw new Error("ipfix without a collector");
      const name = `ipfix-${stamp}`;
      await pnctl("sdwan", "ipfix-add", name, "--host", "10.0.0.1", "--sampling", "64");
      const on = await ipfixOf("ovs");
      if (JSON.stringify(on?.targets) !== '["10.0.0.1:4739"]' || on?.sampling !== 64)
        throw new Error(`ovs ipfix: ${JSON.stringify(on)}`);
      if (await ipfixOf("linux")) throw new Error("the linux bridge got ipfix");
      await pnctl("sdwan", "ipfix-disable", name);
      if (await ipfixOf("ovs")) throw new Error("ipfix after disable");
      await pnctl("sdwan", "ipfix-enable", name);
      if (!(await ipfixOf("ovs"))) throw new Error("no ipfix after enable");
      await pnctl("sdwan", "ipfix-rm", name);
      await pnctl("sdwan", "ipfix-add", `${name}-6`, "--host", "fd00::1");
      const v6 = await ipfixOf("ovs");
      if (JSON.stringify(v6?.targets) !== '["[fd00::1]:4739"]') throw new Error(`v6: ${JSON.stringify(v6)}`);
      await pnctl("sdwan", "ipfix-rm", `${name}-6`);
      return `ovs: 10.0.0.1:4739 sampling 64, gone on disable, back on enable; [fd00::1]:4739; linux: none`;
    },
  );

  await t.check(
    "ipfix_telemetry, real exporter: Open vSwitch 3.1 (the openvswitch module's packages) takes the agent's commands for the compiled OVS bridge and exports its traffic to the hub's collector, counted for the node",
    async () => {
      const [built] = await buildModules(t, "amd64", ["openvswitch"]);
      if (!built) throw new Error("no openvswitch module");
      const listen = flowStoreOf(s.hub.deps).listen;
      const port = listen.slice(listen.lastIndexOf(":") + 1);
      await using lab = await createLab({ name: "p3-ovs", index: 13 });
      const name = `ipfix-real-${stamp}`;
      await pnctl("sdwan", "ipfix-add", name, "--host", lab.hostAddress, "--port", port, "--sampling", "1");
      const ovs = await hostOvs(built, lab.netns);
      try {
        const bridge = (await section(heavy)).find((b) => b.kind === "ovs" && b.state === "active");
        if (!bridge?.ipfix)
          throw new Error(`no OVS bridge with IPFIX in the section: ${JSON.stringify(bridge)}`);
        await ovs.addNetdevBridge(bridge.name);
        const ran = await ovs.apply([bridge]);
        const seen = (await ovs.observe()).bridges.get(bridge.name)?.ipfix;
        if (
          seen?.domain !== bridge.ipfix.observationDomainId ||
          seen.targets[0] !== `${lab.hostAddress}:${port}`
        )
          throw new Error(`OVS holds ${JSON.stringify(seen)} after ${JSON.stringify(ran)}`);
        const again = await ovs.apply([bridge]);
        if (again.length > 0) throw new Error(`not idempotent: ${JSON.stringify(again)}`);
        const flows = await waitFor(
          "flow records for the heavyweight node",
          async () => {
            const r = await pnctl<{ nodes: { nodeId: string; records: number; exporter: string }[] }>(
              "sdwan",
              "flows",
              "--node",
              heavy,
            );
            const n = r.nodes.find((x) => x.nodeId === heavy);
            return n && n.records > 0 ? n : undefined;
          },
          { timeoutMs: 30_000, intervalMs: 500 },
        );
        return `${ran.length} ovs-vsctl command(s) applied, none on the second pass; ${flows.records} records from ${flows.exporter} counted for the node (domain ${bridge.ipfix.observationDomainId})`;
      } finally {
        await ovs.close();
        await pnctl("sdwan", "ipfix-rm", name);
      }
    },
  );

  let frrWithLeak = "";
  await t.check(
    "multi_vrf: distinct (vrf, table) per network, idempotent, no reserved table; FRR blocks per VRF with the set ASNs; a leak a -> b imports a into b until revoked",
    async () => {
      type Vrf = { vrfName: string; tableId: number; asn: number; network: string };
      const nets = [`vrf-a-${stamp}`, `vrf-b-${stamp}`];
      const peer = await node(`sdwan-vrf-peer-${stamp}`, { vcpus: 1, memoryMib: 1024 });
      for (const [i, n] of nets.entries()) {
        await pnctl("net", "create", n, "--topology", "hub_and_spoke");
        await pnctl("sdwan", "asn", n, String(65001 + i));
        for (const id of [heavy, peer]) await pnctl("net", "join", n, id);
      }
      const va = await pnctl<Vrf>("sdwan", "vrf-allocate", heavy, nets[0] as string);
      const vb = await pnctl<Vrf>("sdwan", "vrf-allocate", heavy, nets[1] as string);
      const again = await pnctl<Vrf>("sdwan", "vrf-allocate", heavy, nets[0] as string);
      await pnctl("sdwan", "vrf-allocate", peer, nets[0] as string);
      if (va.vrfName === vb.vrfName || va.tableId === vb.tableId)
        throw new Error(`not distinct: ${JSON.stringify([va, vb])}`);
      if (again.vrfName !== va.vrfName || again.tableId !== va.tableId) throw new Error("not idempotent");
      if ([va, vb].some((v) => [0, 253, 254, 255].includes(v.tableId))) throw new Error("a reserved table");
      const frr = async () => (await getDesiredState(s.hub.deps.db, heavy)).sdwan?.frrConfig ?? "";
      const text = await frr();
      for (const want of [
        `vrf ${va.vrfName}\n`,
        `vrf ${vb.vrfName}\n`,
        `router bgp 65001 vrf ${va.vrfName}\n`,
        `router bgp 65002 vrf ${vb.vrfName}\n`,
      ])
        if (!text.includes(want)) throw new Error(`frr.conf lacks ${JSON.stringify(want)}:\n${text}`);
      const mesh = (await getDesiredState(s.hub.deps.db, heavy)).network?.meshes ?? [];
      const ifA = mesh.find((m) => m.vrfName === va.vrfName);
      if (!ifA || ifA.vrfTable !== va.tableId)
        throw new Error(`network section: ${JSON.stringify(mesh.map((m) => m.vrfName))}`);
      const netA = (await pnctl<{ prefix: string }>("net", "show", nets[0] as string)).prefix;
      const leak = await pnctl<{ id: string }>(
        "sdwan",
        "leak-add",
        nets[0] as string,
        nets[1] as string,
        "--prefix",
        netA,
      );
      const leaked = await frr();
      const inB = leaked.slice(leaked.indexOf(`router bgp 65002 vrf ${vb.vrfName}`));
      if (!inB.includes(`import vrf ${va.vrfName}`)) throw new Error(`no import in b:\n${leaked}`);
      const inA = leaked.slice(
        leaked.indexOf(`router bgp 65001 vrf ${va.vrfName}`),
        leaked.indexOf("router bgp 65002"),
      );
      if (inA.includes("import vrf")) throw new Error("the leak went both ways");
      await pnctl("sdwan", "leak-revoke", leak.id);
      if ((await frr()).includes("import vrf")) throw new Error("import vrf after revoking");
      frrWithLeak = leaked;
      return `${va.vrfName} table ${va.tableId}, ${vb.vrfName} table ${vb.tableId}; AS 65001/65002 honoured; leak ${netA} a -> b imported in b only, gone when revoked; the mesh entry names ${va.vrfName}`;
    },
  );

  await t.check(
    "FRR's own parser (vtysh --dryrun, Debian's frr as the frr module ships it) accepts the compiled frr.conf; a bad line is refused",
    async () => {
      if (!frrWithLeak) throw new Error("no frr.conf from the multi_vrf check");
      const [built] = await buildModules(t, "amd64", ["frr"]);
      if (!built) throw new Error("no frr module");
      const frr = await frrChecker(built);
      try {
        const good = await frr.check(frrWithLeak);
        if (!good.ok) throw new Error(`vtysh refused the compiled config:\n${good.output}`);
        const bad = await frr.check(
          `${frrWithLeak}router bgp 65001 vrf\n neighbour fd00::1 remote-as internal\n`,
        );
        if (bad.ok) throw new Error("vtysh accepted a broken config: the check cannot fail");
        return `${frrWithLeak.split("\n").length} lines accepted by ${built.manifest.version}; the broken one refused (${bad.output.split("\n")[0]?.slice(0, 80)})`;
      } finally {
        frr.close();
      }
    },
  );

  await ovnChecks(t, s, stamp, { heavy, light });
}

/** Seed 8 (ovn_models): a deployment, a switch and a VM port, the plan, and ovn_control per profile. */
export async function ovnChecks(
  t: PassContext,
  s: SmokeHub,
  stamp: string,
  hosts: { heavy: string; light: string },
): Promise<void> {
  const cli = cliFor(() => s.hub);
  const pnctl = async <T>(...argv: string[]): Promise<T> => {
    const r = await cli(...argv, "--json");
    if (r.code !== 0) throw new Error(`pnctl ${argv.join(" ")}: exit ${r.code}: ${r.err}`);
    return JSON.parse(r.out) as T;
  };
  const control = async (id: string) => (await getDesiredState(s.hub.deps.db, id)).sdwan?.ovnControl;
  let ovnPlanCommands: string[][] = [];
  await t.check(
    "ovn_models: deployment bootstrapping -> active; a switch and a vm port (MAC 02:..); the plan ls-add before lsp-add, byte-equal on recompile; ovn_control for heavyweight only, none while degraded",
    async () => {
      const net = `ovn-net-${stamp}`;
      await pnctl("net", "create", net);
      for (const id of [hosts.heavy, hosts.light]) await pnctl("net", "join", net, id);
      const name = `ovn-${stamp}`;
      const d = await pnctl<{ state: string }>(
        ...["sdwan", "ovn-add", name, "--nb", "tcp:10.0.0.1:6641", "--sb", "tcp:10.0.0.1:6642"],
        ...["--northd", "ovn-central-01", "--network", net],
      );
      if (d.state !== "bootstrapping") throw new Error(`new deployment: ${d.state}`);
      if (await control(hosts.heavy)) throw new Error("ovn_control while bootstrapping");
      if ((await pnctl<{ state: string }>("sdwan", "ovn-state", name, "active")).state !== "active")
        throw new Error("not active");
      await pnctl("sdwan", "ovn-switch", name, "ls-smoke-test", "--subnet", "10.10.0.0/24");
      const port = await pnctl<{ mac: string; address: string }>(
        ...["sdwan", "ovn-port", name, "ls-smoke-test", "lsp-vm-001", "--node", hosts.heavy],
        ...["--kind", "vm", "--address", "10.10.0.5"],
      );
      if (!port.mac.startsWith("02:") || port.address !== "10.10.0.5")
        throw new Error(`port: ${JSON.stringify(port)}`);
      // A router on the switch and an ACL: the plan's other commands, for the ovn-nbctl check below.
      await pnctl("sdwan", "ovn-router", name, "lr-smoke");
      await pnctl(
        "sdwan",
        "ovn-port",
        name,
        "ls-smoke-test",
        "lsp-rtr",
        "--router",
        "lr-smoke",
        "--address",
        "10.10.0.1",
      );
      await pnctl(
        ...["sdwan", "ovn-acl", name, "ls-smoke-test", "--direction", "to-lport", "--priority", "1000"],
        ...["--match", "tcp.dst == 22", "--action", "drop"],
      );
      type Plan = { commands: string[][]; sha256: string };
      const plan = await pnctl<Plan>("sdwan", "ovn-plan", name);
      const ls = plan.commands.findIndex((c) => c.includes("ls-add"));
      const lsp = plan.commands.findIndex((c) => c.includes("lsp-add"));
      if (ls < 0 || lsp < 0 || ls > lsp) throw new Error(`plan order: ${JSON.stringify(plan.commands)}`);
      const again = await pnctl<Plan>("sdwan", "ovn-plan", name);
      if (again.sha256 !== plan.sha256 || JSON.stringify(again.commands) !== JSON.stringify(plan.commands))
        throw new Error("recompiling changed the plan");
      const members = await pnctl<{ node: string; address: string }[]>("net", "members", net);
      const heavyAddress = members.find((m) => m.node === hosts.heavy)?.address;
      const c = await control(hosts.heavy);
      if (c?.sbDbEndpoint !== "tcp:10.0.0.1:6642" || c.encapType !== "geneve" || c.encapIp !== heavyAddress)
        throw new Error(`heavy ovn_control: ${JSON.stringify(c)} (address ${heavyAddress})`);
      if (await control(hosts.light)) throw new Error("the lightweight host got ovn_control");
      await pnctl("sdwan", "ovn-state", name, "degraded");
      if (await control(hosts.heavy)) throw new Error("ovn_control while degraded");
      await pnctl("sdwan", "ovn-state", name, "active");
      if (!(await control(hosts.heavy))) throw new Error("ovn_control not back once active");
      ovnPlanCommands = plan.commands;
      return `${plan.commands.length} commands (sha256 ${plan.sha256.slice(0, 12)}.. twice); port ${port.mac}; heavy: ${c.sbDbEndpoint} geneve ${c.encapIp}; light: none; degraded: none`;
    },
  );

  await t.check(
    "the OVN plan applied twice with ovn-nbctl to a real NB database (Debian's ovn-central as the module ships it): switch and subnet, router port, ACL, the vm port's MAC, address and chassis",
    async () => {
      if (ovnPlanCommands.length === 0) throw new Error("no plan from the ovn_models check");
      const [built] = await buildModules(t, "amd64", ["ovn-central"]);
      if (!built) throw new Error("no ovn-central module");
      const nb = await nbDatabase(built);
      try {
        await nb.apply(ovnPlanCommands);
        await nb.apply(ovnPlanCommands); // --may-exist: the same plan again changes nothing
        const switches = await nb.list("Logical_Switch", ["name", "other_config"]);
        const ports = await nb.list("Logical_Switch_Port", ["name", "addresses", "options", "type"]);
        const routers = await nb.list("Logical_Router_Port", ["name", "networks"]);
        const acls = await nb.list("ACL", ["direction", "priority", "match", "action"]);
        const json = JSON.stringify({ switches, ports, routers, acls });
        if (switches.length !== 1 || ports.length !== 2 || routers.length !== 1 || acls.length !== 1)
          throw new Error(`after two applies: ${json}`);
        const sw = JSON.stringify(switches[0]);
        const p = JSON.stringify(ports.find((x) => x.name === "lsp-vm-001"));
        const rp = JSON.stringify(ports.find((x) => x.name === "lsp-rtr"));
        if (!rp.includes('"router"') || !rp.includes('["router-port","lrp-lsp-rtr"]'))
          throw new Error(`router port: ${rp}`);
        if (!JSON.stringify(routers[0]).includes("10.10.0.1/24"))
          throw new Error(`lrp: ${JSON.stringify(routers[0])}`);
        const acl = { direction: "to-lport", priority: 1000, match: "tcp.dst == 22", action: "drop" };
        if (JSON.stringify(acls[0]) !== JSON.stringify(acl))
          throw new Error(`acl: ${JSON.stringify(acls[0])}`);
        if (!sw.includes('"ls-smoke-test"') || !sw.includes('["subnet","10.10.0.0/24"]'))
          throw new Error(`switch: ${sw}`);
        if (
          !p.includes('"lsp-vm-001"') ||
          !/02(:[0-9a-f]{2}){5} 10\.10\.0\.5/.test(p) ||
          !p.includes(hosts.heavy)
        )
          throw new Error(`port: ${p}`);
        return `${built.manifest.version}: 1 switch (10.10.0.0/24), a router port (lrp-lsp-rtr 10.10.0.1/24), 1 ACL, the vm port (${/02(:[0-9a-f]{2}){5} 10\.10\.0\.5/.exec(p)?.[0]}, requested-chassis ${hosts.heavy.slice(0, 8)}..) after applying ${ovnPlanCommands.length} commands twice`;
      } finally {
        await nb.close();
      }
    },
  );
}
