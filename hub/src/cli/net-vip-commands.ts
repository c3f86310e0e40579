/**
 * `pnctl net vips|vip-failover|vip-history` (also as `pnctl networks ...`): a network's virtual IPs with
 * their holders, moving a VIP's primary, and its primary-holder history (docs/runbooks/vip-failover.md).
 */
import { NetworkService } from "@powernode/proto";
import { flag } from "./args.ts";
import { type CommandContext, fields, required, table, ts } from "./shared.ts";

export const VIP_USAGE = `  net vips NET                   (VIPs and holders: primary first, then the failover list)
  net vip-failover VIP [--to MEMBER|NODE] [--reason manual_failover|sensor_failover] [--correlation ID]
                                 (default target: the first live holder of the failover list)
  net vip-history VIP            (the VIP's primary holders over time, with the reason)`;

/** The verbs this file answers. */
export const VIP_VERBS = new Set(["vips", "vip-failover", "vip-history"]);

type Holder = { nodeId: string; nodeName: string; primary: boolean; alive: boolean };
const holderList = (hs: readonly Holder[]) =>
  hs.map((h) => `${h.nodeName || h.nodeId}${h.primary ? "*" : ""}${h.alive ? "" : " (lost)"}`).join(", ");

export async function runVipCommand(ctx: CommandContext): Promise<number> {
  const net = ctx.client(NetworkService);
  switch (ctx.verb) {
    case "vips": {
      const { vips } = await net.listVips({ network: required(ctx, 0, "NET") });
      const rows = vips.map((v) => ({
        id: v.id,
        name: v.name,
        address: v.address,
        state: v.state,
        holders: v.holders.map((h) => ({
          memberId: h.memberId,
          nodeId: h.nodeId,
          nodeName: h.nodeName,
          primary: h.primary,
          alive: h.alive,
          lastHeartbeatAt: ts(h.lastHeartbeatAt),
        })),
      }));
      ctx.print(rows, () =>
        table([
          ["ID", "NAME", "ADDRESS", "STATE", "HOLDERS (* primary)"],
          ...rows.map((r) => [r.id, r.name, r.address, r.state, holderList(r.holders) || "-"]),
        ]),
      );
      return 0;
    }
    case "vip-failover": {
      const r = await net.failoverVip({
        vip: required(ctx, 0, "VIP"),
        to: flag(ctx.args, "to") ?? "",
        reason: flag(ctx.args, "reason") ?? "",
        correlationId: flag(ctx.args, "correlation") ?? "",
      });
      const a = r.assignment;
      const view = {
        vip: r.vip?.name ?? "",
        address: r.vip?.address ?? "",
        moved: r.moved,
        from: a?.fromNodeId ?? "",
        to: a?.toNodeId ?? "",
        reason: a?.reason ?? "",
        correlation: a?.correlationId ?? "",
        holders: holderList(r.vip?.holders ?? []),
      };
      ctx.print(view, () => (r.moved ? fields(view) : [`${view.vip}: already held by ${view.holders}`]));
      return 0;
    }
    case "vip-history": {
      const { assignments } = await net.listVipAssignments({ vip: required(ctx, 0, "VIP") });
      const rows = assignments.map((a) => ({
        at: ts(a.createdAt),
        reason: a.reason,
        fromMemberId: a.fromMemberId,
        fromNodeId: a.fromNodeId,
        toMemberId: a.toMemberId,
        toNodeId: a.toNodeId,
        correlation: a.correlationId,
      }));
      ctx.print(rows, () =>
        table([
          ["AT", "REASON", "FROM", "TO", "CORRELATION"],
          ...rows.map((r) => [
            r.at,
            r.reason,
            r.fromNodeId || r.fromMemberId || "-",
            r.toNodeId || r.toMemberId,
            r.correlation || "-",
          ]),
        ]),
      );
      return 0;
    }
    default:
      throw new Error(`net ${ctx.verb}: not a VIP command`);
  }
}
