/** NetworkService's VIP methods (operator): ListVips, FailoverVip, ListVipAssignments. */
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import type { NetworkService } from "@powernode/proto";
import { asc, eq } from "drizzle-orm";
import { networkVips } from "../db/schema/index.ts";
import type { Deps } from "../deps.ts";
import { DomainError } from "../errors.ts";
import { choiceField, textField, uuidField } from "../rpc/fields.ts";
import { resolveNetwork } from "./networks.ts";
import { listVipAssignments, type VipAssignmentView } from "./vip-assignments.ts";
import { failoverVip } from "./vip-failover.ts";
import { vipFailoverSeconds } from "./vip-failover-config.ts";
import { holderViews, networkHandshakes } from "./vip-holders.ts";
import { isHolderAlive } from "./vip-liveness.ts";
import { getVip, type VipRow } from "./vips.ts";

type VipMethods = Pick<ServiceImpl<typeof NetworkService>, "listVips" | "failoverVip" | "listVipAssignments">;

function toProtoAssignment(a: VipAssignmentView) {
  return {
    id: a.id,
    vipId: a.vipId,
    fromMemberId: a.fromMemberId ?? "",
    fromNodeId: a.fromNodeId ?? "",
    toMemberId: a.toMemberId,
    toNodeId: a.toNodeId ?? "",
    reason: a.reason,
    correlationId: a.correlationId,
    createdAt: timestampFromDate(a.createdAt),
  };
}

export function createVipMethods(deps: Deps): VipMethods {
  const vipId = (v: string) => uuidField("vip", v);
  /** VIPs of one network with their holders and whether each is alive now. */
  async function toProtoVips(networkId: string, vips: readonly VipRow[]) {
    const handshakes = await networkHandshakes(deps.db, networkId);
    const liveness = { handshakes, now: deps.now(), thresholdSeconds: vipFailoverSeconds(deps.config) };
    return Promise.all(
      vips.map(async (v) => ({
        id: v.id,
        networkId: v.networkId,
        name: v.name,
        address: v.address,
        state: v.state,
        updatedAt: timestampFromDate(v.updatedAt),
        holders: (await holderViews(deps.db, v.holderMemberIds)).map((h, i) => ({
          memberId: h.memberId,
          nodeId: h.nodeId ?? "",
          nodeName: h.nodeName,
          primary: i === 0,
          alive: isHolderAlive(h, liveness),
          lastHeartbeatAt: h.lastHeartbeatAt ? timestampFromDate(h.lastHeartbeatAt) : undefined,
        })),
      })),
    );
  }
  return {
    async listVips(req) {
      const n = await resolveNetwork(
        deps.db,
        textField("network", req.network, { required: true, max: 128 }),
      );
      const vips = await deps.db
        .select()
        .from(networkVips)
        .where(eq(networkVips.networkId, n.id))
        .orderBy(asc(networkVips.name));
      return { vips: await toProtoVips(n.id, vips) };
    },
    async failoverVip(req) {
      const vip = vipId(req.vip);
      const to = textField("to", req.to, { max: 64 });
      const reason =
        req.reason === ""
          ? "manual_failover"
          : choiceField("reason", req.reason, ["manual_failover", "sensor_failover"]);
      const r = await failoverVip(deps, {
        vip,
        to: to === "" ? undefined : to,
        reason,
        correlationId: textField("correlation_id", req.correlationId, { max: 128 }) || undefined,
      });
      const [view] = await toProtoVips(r.vip.networkId, [r.vip]);
      return {
        vip: view,
        moved: r.moved,
        assignment: r.assignment ? toProtoAssignment(r.assignment) : undefined,
      };
    },
    async listVipAssignments(req) {
      const id = vipId(req.vip);
      if (!(await getVip(deps.db, id))) throw new DomainError("not_found", `vip: no VIP ${id}`);
      return { assignments: (await listVipAssignments(deps.db, id)).map(toProtoAssignment) };
    },
  };
}
