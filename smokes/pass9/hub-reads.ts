/**
 * The few things pass 9 checks that no operator API shows yet, read in process through the hub's own
 * modules (as pass 2 reads them): a network's pod subnet prefix, a node's member id in a network (what
 * VIP holders and advertisements name), a cluster's API VIP (state, holders: primary first, then the
 * failover candidates) and its pod subnet advertisement. Everything else goes through the APIs.
 */
import { resolveCluster } from "../../hub/src/k3s/store.ts";
import { membershipsOf, resolveNetwork } from "../../hub/src/network/networks.ts";
import { getSubnetAdvertisement } from "../../hub/src/network/subnet-advertisements.ts";
import { getVip } from "../../hub/src/network/vips.ts";
import type { SmokeHub } from "../lib/hub.ts";

/** The network's pod subnet prefix ("" when none is set). NetworkService.GetNetwork does not carry it. */
export async function podPrefixOf(s: SmokeHub, network: string): Promise<string> {
  return (await resolveNetwork(s.hub.deps.db, network)).podSubnetPrefix ?? "";
}

/** The node's member id in `networkId` (ListMembers names nodes, not members). */
export async function memberIdOf(s: SmokeHub, nodeId: string, networkId: string): Promise<string> {
  const m = (await membershipsOf(s.hub.deps.db, nodeId)).find((x) => x.network.id === networkId);
  if (!m) throw new Error(`node ${nodeId} is no member of network ${networkId}`);
  return m.member.id;
}

export interface ApiVip {
  id: string;
  address: string;
  state: string;
  /** Member ids, the primary first. */
  holders: string[];
}

/** The cluster's API VIP. K3sCluster carries its address only. */
export async function apiVipOf(s: SmokeHub, clusterId: string): Promise<ApiVip> {
  const c = await resolveCluster(s.hub.deps.db, clusterId);
  const vip = c.apiVipId ? await getVip(s.hub.deps.db, c.apiVipId) : undefined;
  if (!vip) throw new Error(`cluster ${c.name}: no API VIP (api_vip_id ${c.apiVipId})`);
  return { id: vip.id, address: vip.address, state: vip.state, holders: vip.holderMemberIds };
}

export interface PodAdvertisement {
  id: string;
  source: string;
  prefix: string;
  memberId: string;
  active: boolean;
}

/** The cluster's pod subnet advertisement. */
export async function podAdvertisementOf(s: SmokeHub, clusterId: string): Promise<PodAdvertisement> {
  const c = await resolveCluster(s.hub.deps.db, clusterId);
  const a = c.podAdvertisementId
    ? await getSubnetAdvertisement(s.hub.deps.db, c.podAdvertisementId)
    : undefined;
  if (!a) throw new Error(`cluster ${c.name}: no pod subnet advertisement`);
  return { id: a.id, source: a.source, prefix: a.prefix, memberId: a.memberId, active: a.active };
}
