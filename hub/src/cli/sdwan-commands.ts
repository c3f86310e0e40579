/** `pnctl sdwan ...`: host bridges, IPFIX collectors, VRFs per (node, network) and route leaks. */
import {
  type HostBridge,
  type IpfixCollector,
  type NodeFlows,
  type RouteLeak,
  SdwanService,
  type Vrf,
} from "@powernode/proto";
import { flag, type ParsedArgs } from "./args.ts";
import { type CommandGroup, required, table, ts, UsageError, unknownVerb } from "./shared.ts";

const bridgeView = (b: HostBridge) => ({
  id: b.id,
  nodeId: b.nodeId,
  shortId: b.shortId,
  name: b.name,
  kind: b.kind,
  state: b.state,
  ipfix: b.ipfix
    ? { targets: b.ipfix.targets, sampling: b.ipfix.sampling, domain: b.ipfix.observationDomainId }
    : undefined,
  address: b.address || undefined,
  tunnels: b.tunnels.map((t) => ({
    name: t.name,
    remoteIp: t.remoteIp,
    key: t.key,
    peerNodeId: t.peerNodeId,
  })),
});

const flowsView = (n: NodeFlows) => ({
  nodeId: n.nodeId,
  domain: n.observationDomainId,
  exporter: n.exporter,
  messages: Number(n.messages),
  records: Number(n.records),
  packets: Number(n.packets),
  octets: Number(n.octets),
  lastMessageAt: ts(n.lastMessageAt),
  recent: n.recent.map((f) => ({
    source: f.sourceAddress,
    destination: f.destinationAddress,
    protocol: f.protocol,
    packets: Number(f.packets),
    receivedAt: ts(f.receivedAt),
  })),
});

const collectorView = (c: IpfixCollector) => ({
  id: c.id,
  name: c.name,
  target: c.target,
  sampling: c.sampling,
  enabled: c.enabled,
  createdAt: ts(c.createdAt),
});

const vrfView = (v: Vrf) => ({
  id: v.id,
  nodeId: v.nodeId,
  networkId: v.networkId,
  network: v.network,
  vrfName: v.vrfName,
  tableId: v.tableId,
  interfaceName: v.interfaceName,
  asn: v.asn,
});

const leakView = (l: RouteLeak) => ({
  id: l.id,
  fromNetworkId: l.fromNetworkId,
  toNetworkId: l.toNetworkId,
  prefix: l.prefix,
  state: l.state,
  createdAt: ts(l.createdAt),
});

function numberFlag(args: ParsedArgs, name: string): number {
  const v = flag(args, name);
  if (v === undefined) return 0;
  if (!/^\d{1,10}$/.test(v)) throw new UsageError(`--${name}: "${v}" is not a number`);
  return Number(v);
}

export const sdwanCommands: CommandGroup = {
  name: "sdwan",
  usage: `  sdwan bridges <node>
  sdwan bridge-allocate <node> [--kind linux|ovs]   (default: the node's network profile's kind)
  sdwan bridge-drain <bridge id>
  sdwan bridge-rm <bridge id>                       (a draining bridge only)
  sdwan profile <node>                              (the profile the node's size suggests)
  sdwan ipfix-ls
  sdwan ipfix-add <name> --host HOST [--port 4739] [--sampling 64]
  sdwan ipfix-enable|ipfix-disable|ipfix-rm <name>
  sdwan flows [--node NODE]                          (what the hub's IPFIX collector received, per node)
  sdwan vrf-allocate <node> <network>               (the node's VRF for that network: name, table)
  sdwan vrfs <node>
  sdwan asn <network> <asn|derived>                 (the network's BGP AS number)
  sdwan leak-add <from network> <to network> --prefix CIDR
  sdwan leak-revoke <leak id>
  sdwan leaks
  sdwan ovn-add <name> --nb tcp:HOST:6641 --sb tcp:HOST:6642 --northd HOST --network NET
  sdwan ovn-state <deployment> active|degraded
  sdwan ovn-switch <deployment> <name> --subnet CIDR
  sdwan ovn-router <deployment> <name>
  sdwan ovn-port <deployment> <switch> <name> --address IP (--node NODE [--kind vm|container] | --router ROUTER)
  sdwan ovn-acl <deployment> <switch> --direction from-lport|to-lport --priority N --match EXPR --action A
  sdwan ovn-plan <deployment>                      (the ovn-nbctl commands, and their sha256)`,
  async run(ctx) {
    const sdwan = ctx.client(SdwanService);
    const printBridge = (b: HostBridge | undefined, what: string) => {
      const v = b ? bridgeView(b) : undefined;
      ctx.print(v, () => [`${what} ${v?.name} (${v?.kind}, ${v?.state}) on ${v?.nodeId}: ${v?.id}`]);
    };
    switch (ctx.verb) {
      case "bridges": {
        const rows = (await sdwan.listHostBridges({ nodeId: required(ctx, 0, "node") })).bridges.map(
          bridgeView,
        );
        ctx.print(rows, () =>
          table([
            ["NAME", "KIND", "STATE", "IPFIX", "ID"],
            ...rows.map((r) => [r.name, r.kind, r.state, r.ipfix?.targets.join(",") ?? "-", r.id]),
          ]),
        );
        return 0;
      }
      case "bridge-allocate": {
        const r = await sdwan.allocateHostBridge({
          nodeId: required(ctx, 0, "node"),
          kind: flag(ctx.args, "kind") ?? "",
        });
        printBridge(r.bridge, r.created ? "allocated" : r.readopted ? "re-adopted" : "already active:");
        return 0;
      }
      case "bridge-drain":
        printBridge(
          (await sdwan.drainHostBridge({ bridgeId: required(ctx, 0, "bridge id") })).bridge,
          "draining",
        );
        return 0;
      case "bridge-rm":
        printBridge(
          (await sdwan.removeHostBridge({ bridgeId: required(ctx, 0, "bridge id") })).bridge,
          "removed",
        );
        return 0;
      case "profile": {
        const r = await sdwan.suggestNetworkProfile({ nodeId: required(ctx, 0, "node") });
        const v = { suggested: r.profile, reason: r.reason, current: r.current };
        ctx.print(v, () => [`suggested ${r.profile} (${r.reason}); set: ${r.current || "unknown"}`]);
        return 0;
      }
      case "ipfix-ls": {
        const rows = (await sdwan.listIpfixCollectors({})).collectors.map(collectorView);
        ctx.print(rows, () =>
          table([
            ["NAME", "TARGET", "SAMPLING", "ENABLED"],
            ...rows.map((r) => [r.name, r.target, String(r.sampling), r.enabled ? "yes" : "no"]),
          ]),
        );
        return 0;
      }
      case "ipfix-add": {
        const r = await sdwan.createIpfixCollector({
          name: required(ctx, 0, "name"),
          host: flag(ctx.args, "host") ?? "",
          port: numberFlag(ctx.args, "port"),
          sampling: numberFlag(ctx.args, "sampling"),
        });
        const v = r.collector ? collectorView(r.collector) : undefined;
        ctx.print(v, () => [`created IPFIX collector ${v?.name} at ${v?.target} (1 in ${v?.sampling})`]);
        return 0;
      }
      case "ipfix-enable":
      case "ipfix-disable": {
        const r = await sdwan.setIpfixCollectorEnabled({
          collector: required(ctx, 0, "name"),
          enabled: ctx.verb === "ipfix-enable",
        });
        const v = r.collector ? collectorView(r.collector) : undefined;
        ctx.print(v, () => [`${v?.name} ${v?.enabled ? "enabled" : "disabled"}`]);
        return 0;
      }
      case "ipfix-rm": {
        const name = required(ctx, 0, "name");
        await sdwan.deleteIpfixCollector({ collector: name });
        ctx.print({ collector: name, deleted: true }, () => [`deleted IPFIX collector ${name}`]);
        return 0;
      }
      case "flows": {
        const r = await sdwan.listIpfixFlows({ nodeId: flag(ctx.args, "node") ?? "" });
        const v = {
          listen: r.receiver?.listen ?? "",
          messages: Number(r.receiver?.messages ?? 0n),
          rejected: Number(r.receiver?.rejected ?? 0n),
          unknownDomain: Number(r.receiver?.unknownDomain ?? 0n),
          nodes: r.nodes.map(flowsView),
        };
        ctx.print(v, () => [
          `collector ${v.listen || "off"}: ${v.messages} messages, ${v.rejected} rejected, ${v.unknownDomain} from unknown domains`,
          ...table([
            ["NODE", "DOMAIN", "EXPORTER", "MESSAGES", "RECORDS", "PACKETS", "LAST"],
            ...v.nodes.map((n) => [
              n.nodeId,
              String(n.domain),
              n.exporter,
              String(n.messages),
              String(n.records),
              String(n.packets),
              n.lastMessageAt ?? "-",
            ]),
          ]),
        ]);
        return 0;
      }
      case "vrf-allocate": {
        const r = await sdwan.allocateVrf({
          nodeId: required(ctx, 0, "node"),
          network: required(ctx, 1, "network"),
        });
        const v = r.vrf ? vrfView(r.vrf) : undefined;
        ctx.print(v, () => [
          `${r.created ? "allocated" : "already allocated:"} ${v?.vrfName} table ${v?.tableId} (AS ${v?.asn}) for ${v?.network}`,
        ]);
        return 0;
      }
      case "vrfs": {
        const rows = (await sdwan.listVrfs({ nodeId: required(ctx, 0, "node") })).vrfs.map(vrfView);
        ctx.print(rows, () =>
          table([
            ["VRF", "TABLE", "NETWORK", "INTERFACE", "AS"],
            ...rows.map((r) => [r.vrfName, String(r.tableId), r.network, r.interfaceName, String(r.asn)]),
          ]),
        );
        return 0;
      }
      case "asn": {
        const v = required(ctx, 1, "asn|derived");
        if (v !== "derived" && !/^\d{1,10}$/.test(v))
          throw new UsageError(`asn: "${v}" is not a number or "derived"`);
        const r = await sdwan.setNetworkBgpAsn({
          network: required(ctx, 0, "network"),
          asn: v === "derived" ? 0 : Number(v),
        });
        ctx.print(r, () => [`AS ${r.asn}${r.derived ? " (derived from the network's id)" : ""}`]);
        return 0;
      }
      case "leak-add": {
        const r = await sdwan.createRouteLeak({
          fromNetwork: required(ctx, 0, "from network"),
          toNetwork: required(ctx, 1, "to network"),
          prefix: flag(ctx.args, "prefix") ?? "",
        });
        const v = r.leak ? leakView(r.leak) : undefined;
        ctx.print(v, () => [`leaking ${v?.prefix} one way: ${v?.id}`]);
        return 0;
      }
      case "leak-revoke": {
        const r = await sdwan.revokeRouteLeak({ leakId: required(ctx, 0, "leak id") });
        const v = r.leak ? leakView(r.leak) : undefined;
        ctx.print(v, () => [`revoked ${v?.id} (${v?.prefix})`]);
        return 0;
      }
      case "leaks": {
        const rows = (await sdwan.listRouteLeaks({})).leaks.map(leakView);
        ctx.print(rows, () =>
          table([
            ["ID", "FROM", "TO", "PREFIX", "STATE"],
            ...rows.map((r) => [r.id, r.fromNetworkId, r.toNetworkId, r.prefix, r.state]),
          ]),
        );
        return 0;
      }
      case "ovn-add": {
        const r = await sdwan.createOvnDeployment({
          name: required(ctx, 0, "name"),
          nbEndpoint: flag(ctx.args, "nb") ?? "",
          sbEndpoint: flag(ctx.args, "sb") ?? "",
          northdHost: flag(ctx.args, "northd") ?? "",
          network: flag(ctx.args, "network") ?? "",
        });
        ctx.print(r.deployment, () => [
          `created OVN deployment ${r.deployment?.name} (${r.deployment?.state})`,
        ]);
        return 0;
      }
      case "ovn-state": {
        const r = await sdwan.setOvnDeploymentState({
          deployment: required(ctx, 0, "deployment"),
          state: required(ctx, 1, "state"),
        });
        ctx.print(r.deployment, () => [`${r.deployment?.name}: ${r.deployment?.state}`]);
        return 0;
      }
      case "ovn-switch": {
        const r = await sdwan.createLogicalSwitch({
          deployment: required(ctx, 0, "deployment"),
          name: required(ctx, 1, "name"),
          subnet: flag(ctx.args, "subnet") ?? "",
        });
        ctx.print(r.switch, () => [`logical switch ${r.switch?.name} (${r.switch?.subnet})`]);
        return 0;
      }
      case "ovn-router": {
        const r = await sdwan.createLogicalRouter({
          deployment: required(ctx, 0, "deployment"),
          name: required(ctx, 1, "name"),
        });
        ctx.print(r.router, () => [`logical router ${r.router?.name}`]);
        return 0;
      }
      case "ovn-port": {
        const router = flag(ctx.args, "router") ?? "";
        const r = await sdwan.createLogicalPort({
          deployment: required(ctx, 0, "deployment"),
          switch: required(ctx, 1, "switch"),
          name: required(ctx, 2, "name"),
          kind: router ? "router" : (flag(ctx.args, "kind") ?? "vm"),
          nodeId: flag(ctx.args, "node") ?? "",
          router,
          address: flag(ctx.args, "address") ?? "",
        });
        ctx.print(r.port, () => [`port ${r.port?.name} (${r.port?.kind}) ${r.port?.mac} ${r.port?.address}`]);
        return 0;
      }
      case "ovn-acl": {
        const r = await sdwan.createOvnAcl({
          deployment: required(ctx, 0, "deployment"),
          switch: required(ctx, 1, "switch"),
          direction: flag(ctx.args, "direction") ?? "",
          priority: numberFlag(ctx.args, "priority"),
          match: flag(ctx.args, "match") ?? "",
          action: flag(ctx.args, "action") ?? "",
        });
        ctx.print(r.acl, () => [
          `ACL ${r.acl?.direction} ${r.acl?.priority} ${r.acl?.match} ${r.acl?.action}`,
        ]);
        return 0;
      }
      case "ovn-plan": {
        const r = await sdwan.getOvnPlan({ deployment: required(ctx, 0, "deployment") });
        const v = { commands: r.commands.map((c) => c.argv), sha256: r.sha256 };
        ctx.print(v, () => [
          ...v.commands.map(
            (c) => `ovn-nbctl ${c.map((a) => (/\s/.test(a) ? JSON.stringify(a) : a)).join(" ")}`,
          ),
          `# sha256 ${v.sha256}`,
        ]);
        return 0;
      }
      default:
        return unknownVerb(ctx, sdwanCommands);
    }
  },
};
