/** `pnctl nodes ls|get`. */
import { FleetService, type Node, NodeState } from "@powernode/proto";
import { flag } from "./args.ts";
import {
  archName,
  type CommandGroup,
  fields,
  required,
  stateName,
  table,
  ts,
  UsageError,
  unknownVerb,
} from "./shared.ts";

function parseState(v: string | undefined): NodeState {
  if (v === undefined) return NodeState.UNSPECIFIED;
  const s = NodeState[v.toUpperCase() as keyof typeof NodeState];
  if (typeof s !== "number") throw new UsageError(`--state: unknown state "${v}"`);
  return s;
}

export const nodesCommands: CommandGroup = {
  name: "nodes",
  usage: `  nodes ls [--state pending|starting|running|degraded|stopped|deleted]
  nodes get <id>
  nodes revoke-certs <id>     (every live certificate of the node; its agent then enrolls again)`,
  async run(ctx) {
    const fleet = ctx.client(FleetService);
    switch (ctx.verb) {
      case "ls": {
        const nodes: Node[] = [];
        let pageToken = "";
        do {
          const r = await fleet.listNodes({
            state: parseState(flag(ctx.args, "state")),
            pageSize: 500,
            pageToken,
          });
          nodes.push(...r.nodes);
          pageToken = r.nextPageToken;
        } while (pageToken);
        const rows = nodes.map((n) => ({
          id: n.id,
          name: n.name,
          arch: archName(n.arch),
          state: stateName(n.state),
          provider: n.provider,
          lastHeartbeatAt: ts(n.lastHeartbeatAt),
        }));
        ctx.print(rows, () =>
          table([
            ["ID", "NAME", "ARCH", "STATE", "PROVIDER", "LAST HEARTBEAT"],
            ...rows.map((r) => [r.id, r.name, r.arch, r.state, r.provider, r.lastHeartbeatAt]),
          ]),
        );
        return 0;
      }
      case "revoke-certs": {
        const id = required(ctx, 0, "id");
        const { serials } = await fleet.revokeNodeCertificates({ nodeId: id });
        ctx.print({ node: id, revoked: serials }, () => [
          serials.length > 0
            ? `revoked ${serials.length} certificate(s) of ${id}: ${serials.join(", ")}`
            : `${id} had no live certificate`,
          "the node enrolls again with a fresh bootstrap token (StopInstance + StartInstance gives it one)",
        ]);
        return 0;
      }
      case "get": {
        const id = required(ctx, 0, "id");
        const n = (await fleet.getNode({ id })).node;
        if (!n) throw new UsageError(`nodes get: hub returned no node for ${id}`);
        const view = {
          id: n.id,
          name: n.name,
          arch: archName(n.arch),
          state: stateName(n.state),
          provider: n.provider,
          agentVersion: n.agentVersion,
          bootId: n.bootId,
          lastHeartbeatAt: ts(n.lastHeartbeatAt),
          enrolledAt: ts(n.enrolledAt),
          certificateSerial: n.certificateSerial,
          certificateNotAfter: ts(n.certificateNotAfter),
          desiredVersion: n.desiredVersion.toString(),
          appliedVersion: n.appliedVersion.toString(),
          createdAt: ts(n.createdAt),
        };
        ctx.print(view, () => fields(view));
        return 0;
      }
      default:
        return unknownVerb(ctx, nodesCommands);
    }
  },
};
