/** `pnctl net ...` (or `pnctl networks ...`): overlay networks, members, credentials, mesh health and VIPs. */
import { MeshTopology, NetworkService } from "@powernode/proto";
import { flag } from "./args.ts";
import { joinAsOperator, leaveAsOperator } from "./net-operator.ts";
import { runVipCommand, VIP_USAGE, VIP_VERBS } from "./net-vip-commands.ts";
import { type CommandGroup, fields, required, table, ts, UsageError, unknownVerb } from "./shared.ts";

const topologyName = (t: MeshTopology) => (t === MeshTopology.HUB_AND_SPOKE ? "hub_and_spoke" : "full_mesh");

function parseTopology(v: string | undefined): MeshTopology {
  if (v === undefined || v === "full_mesh") return MeshTopology.FULL_MESH;
  if (v === "hub_and_spoke") return MeshTopology.HUB_AND_SPOKE;
  throw new UsageError(`net create: --topology must be full_mesh or hub_and_spoke, not "${v}"`);
}

function age(seconds: bigint): string {
  return seconds < 0n ? "never" : `${seconds}s`;
}

export const netCommands: CommandGroup = {
  name: "net",
  usage: `  net ls
  net create NAME [--prefix fdXX:XXXX:XXXX:XXXX::/64] [--topology full_mesh|hub_and_spoke] [--port N] [--mtu N]
  net show|rm NET
  net join|leave NET NODE [--hub]
  net join NET [--as NAME] [--netns NS] [--ifname IF] [--port N] [--endpoint HOST:PORT]
                                 (this machine as an operator peer: its own key, wg-sdwan-<handle> here)
  net leave NET [--as NAME] [--netns NS] [--ifname IF]
  net members NET
  net revoke|issue NET NODE      (a member's credential: its peers drop it / get it back)
  net health NET                 (peers per node, handshake age; down after 275 s)
${VIP_USAGE}`,
  async run(ctx) {
    if (VIP_VERBS.has(ctx.verb ?? "")) return runVipCommand(ctx);
    const net = ctx.client(NetworkService);
    switch (ctx.verb) {
      case "ls": {
        const list = (await net.listNetworks({})).networks;
        const rows = list.map((n) => ({
          name: n.name,
          handle: n.handle,
          prefix: n.prefix,
          topology: topologyName(n.topology),
          port: n.listenPort,
          members: n.memberCount,
        }));
        ctx.print(rows, () =>
          table([
            ["NAME", "HANDLE", "PREFIX", "TOPOLOGY", "PORT", "MEMBERS"],
            ...rows.map((r) => [r.name, r.handle, r.prefix, r.topology, String(r.port), String(r.members)]),
          ]),
        );
        return 0;
      }
      case "create": {
        const name = required(ctx, 0, "NAME");
        const port = flag(ctx.args, "port");
        const mtu = flag(ctx.args, "mtu");
        const { network } = await net.createNetwork({
          name,
          prefix: flag(ctx.args, "prefix") ?? "",
          topology: parseTopology(flag(ctx.args, "topology")),
          listenPort: port === undefined ? 0 : Number(port),
          mtu: mtu === undefined ? 0 : Number(mtu),
        });
        const view = {
          id: network?.id ?? "",
          name: network?.name ?? "",
          handle: network?.handle ?? "",
          prefix: network?.prefix ?? "",
          interface: `wg-sdwan-${network?.handle ?? ""}`,
          constellation: network?.constellationHandle ?? "",
        };
        ctx.print(view, () => fields(view));
        return 0;
      }
      case "show": {
        const { network: n } = await net.getNetwork({ network: required(ctx, 0, "NET") });
        const view = {
          id: n?.id ?? "",
          name: n?.name ?? "",
          handle: n?.handle ?? "",
          prefix: n?.prefix ?? "",
          topology: topologyName(n?.topology ?? MeshTopology.FULL_MESH),
          port: n?.listenPort ?? 0,
          mtu: n?.mtu ?? 0,
          members: n?.memberCount ?? 0,
          version: String(n?.version ?? 0n),
          constellation: n?.constellationHandle ?? "",
          publicKey: n?.constellationPublicKey ?? "",
          created: ts(n?.createdAt),
        };
        ctx.print(view, () => fields(view));
        return 0;
      }
      case "rm":
        await net.deleteNetwork({ network: required(ctx, 0, "NET") });
        ctx.print({ deleted: ctx.rest[0] }, () => [`deleted ${ctx.rest[0]}`]);
        return 0;
      case "join": {
        if (ctx.rest[1] === undefined) return joinAsOperator(ctx);
        const { member: m } = await net.joinNetwork({
          network: required(ctx, 0, "NET"),
          nodeId: required(ctx, 1, "NODE"),
          hub: ctx.args.flags.has("hub"),
        });
        const view = { node: m?.nodeId ?? "", address: m?.address ?? "", hub: m?.hub ?? false };
        ctx.print(view, () => fields(view));
        return 0;
      }
      case "leave":
        if (ctx.rest[1] === undefined) return leaveAsOperator(ctx);
        await net.leaveNetwork({ network: required(ctx, 0, "NET"), nodeId: required(ctx, 1, "NODE") });
        ctx.print({ left: ctx.rest[1] }, () => [`${ctx.rest[1]} left ${ctx.rest[0]}`]);
        return 0;
      case "members": {
        const { members } = await net.listMembers({ network: required(ctx, 0, "NET") });
        const rows = members.map((m) => ({
          node: m.nodeId,
          name: m.nodeName,
          address: m.address,
          credential: m.credentialStatus,
          revision: Number(m.credentialRevision),
          endpoints: m.endpoints.join(","),
        }));
        ctx.print(rows, () =>
          table([
            ["NODE", "NAME", "ADDRESS", "CREDENTIAL", "REV", "ENDPOINTS"],
            ...rows.map((r) => [
              r.node,
              r.name,
              r.address,
              r.credential,
              String(r.revision),
              r.endpoints || "-",
            ]),
          ]),
        );
        return 0;
      }
      case "revoke": {
        const r = await net.revokeCredential({
          network: required(ctx, 0, "NET"),
          nodeId: required(ctx, 1, "NODE"),
        });
        ctx.print({ revoked: r.revoked }, () => [`revoked ${r.revoked} credential(s)`]);
        return 0;
      }
      case "issue": {
        const { credential: c } = await net.issueCredential({
          network: required(ctx, 0, "NET"),
          nodeId: required(ctx, 1, "NODE"),
        });
        const view = {
          revision: Number(c?.revision ?? 0n),
          notAfter: ts(c?.notAfter),
          refreshAfter: ts(c?.refreshAfter),
        };
        ctx.print(view, () => fields(view));
        return 0;
      }
      case "health": {
        const h = await net.getMeshHealth({ network: required(ctx, 0, "NET") });
        const names = new Map(h.members.map((m) => [m.nodeId, m.nodeName]));
        const rows = h.members.flatMap((m) =>
          m.peers.length === 0
            ? [{ node: m.nodeName, peer: "-", endpoint: "-", handshake: "-", up: false, problem: m.problem }]
            : m.peers.map((p) => ({
                node: m.nodeName,
                peer: names.get(p.nodeId) || p.nodeId,
                endpoint: p.endpoint,
                handshake: age(p.handshakeAgeSeconds),
                up: p.up,
                problem: m.problem,
              })),
        );
        ctx.print({ fullMesh: h.fullMesh, peers: rows }, () => [
          ...table([
            ["NODE", "PEER", "ENDPOINT", "HANDSHAKE", "UP"],
            ...rows.map((r) => [r.node, r.peer, r.endpoint || "-", r.handshake, r.up ? "up" : "down"]),
          ]),
          h.fullMesh ? "full mesh: every expected peer is up" : "not a full mesh yet",
        ]);
        return 0;
      }
      default:
        return unknownVerb(ctx, netCommands);
    }
  },
};

/** `pnctl networks ...`: the same commands as `pnctl net ...`. */
export const networksCommands: CommandGroup = {
  name: "networks",
  usage: "  networks VERB ...              (the same as net VERB ...)",
  run: (ctx) => netCommands.run(ctx),
};
