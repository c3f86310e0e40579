/**
 * Pass 9, site tier: the cluster's API VIP fails over when its holder dies. The VIP is on the
 * holder's mesh interface and in every peer's AllowedIPs for the holder. A third node pings it over
 * the mesh. The holder's VM is killed; the hub sees no heartbeat and no handshake from it for
 * VIP_FAILOVER_SECONDS and moves the VIP to the candidate (reason sensor_failover). The third node's
 * pings are answered again, and the seconds without an answer are printed.
 */
import type { Network } from "@powernode/proto";
import type { PassContext } from "../lib/pass.ts";
import type { SiteNode, SiteNodes } from "../lib/site-nodes.ts";
import { pingTargets } from "../pass3/site-tier.ts";

/** The hub's threshold for a lost holder in this pass (POWERNODE_VIP_FAILOVER_SECONDS). */
export const VIP_FAILOVER_SECONDS = 10;

export interface VipInput {
  cluster: string;
  network: Network;
  /** The VIP's primary holder, killed. */
  holder: SiteNode;
  /** The failover candidate. */
  candidate: SiteNode;
  /** Pings the VIP throughout. */
  watcher: SiteNode;
}

export async function siteVipChecks(t: PassContext, site: SiteNodes, input: VipInput): Promise<void> {
  const { network, k3s, provision } = site.hub;
  const { holder, candidate, watcher } = input;
  const vipAddress = (await k3s.getCluster({ cluster: input.cluster })).cluster?.apiVip ?? "";
  const iface = `wg-sdwan-${input.network.handle}`;
  const members = new Map(
    (await network.listMembers({ network: input.network.id })).members.map((m) => [m.nodeId, m.id]),
  );
  const vip = async () => {
    const v = (await network.listVips({ network: input.network.id })).vips.find(
      (x) => x.address === vipAddress,
    );
    if (!v) throw new Error(`no VIP ${vipAddress} in ${input.network.name}`);
    return v;
  };
  const ping = async () =>
    (await pingTargets(site, [{ from: watcher, to: "vip", target: vipAddress, interface: iface }]))[0];

  await t.check(
    `the VIP ${vipAddress} is held by ${holder.name}, ${candidate.name} the candidate`,
    async () => {
      const v = await vip();
      const ids = v.holders.map((h) => h.nodeId);
      if (ids[0] !== holder.instanceId || ids[1] !== candidate.instanceId)
        throw new Error(`holders ${v.holders.map((h) => h.nodeName).join(", ")}`);
      return v.holders.map((h) => `${h.nodeName}${h.primary ? " (primary)" : ""}`).join(", ");
    },
  );
  await t.check(`${watcher.name} pings the VIP over ${iface}`, async () => {
    const r = await ping();
    if (!r || r.received === 0) throw new Error(`${r?.received ?? 0}/${r?.transmitted ?? 0} answered`);
    return `${r.received}/${r.transmitted}`;
  });

  const pid = Number(
    (await provision.getInstance({ id: holder.instanceId })).instance?.providerInfo.pid ?? 0,
  );
  if (!(pid > 0)) throw new Error(`${holder.name}: no VM pid`);
  process.kill(pid, "SIGKILL");
  const killed = performance.now();
  t.info(`killed ${holder.name}'s VM (pid ${pid})`);

  let lastFail = killed;
  let answered: number | undefined;
  const deadline = killed + (VIP_FAILOVER_SECONDS + 120) * 1000;
  while (performance.now() < deadline) {
    const r = await ping();
    if (r && r.received > 0) {
      answered = performance.now();
      break;
    }
    lastFail = performance.now();
  }
  await t.check(`${watcher.name}'s pings to the VIP are answered again after the holder died`, () => {
    if (answered === undefined)
      throw new Error(`no answer ${((performance.now() - killed) / 1000).toFixed(0)} s after the kill`);
    const gap = (answered - killed) / 1000;
    t.state.vipSecondsWithoutAnswer = Number(gap.toFixed(1));
    return `${gap.toFixed(1)} s without an answer (last failed probe ${((lastFail - killed) / 1000).toFixed(1)} s after the kill; threshold ${VIP_FAILOVER_SECONDS} s)`;
  });
  await t.check(
    `the VIP moved to ${candidate.name}; ${holder.name} at the end of the failover list`,
    async () => {
      const v = await vip();
      const ids = v.holders.map((h) => h.nodeId);
      if (ids[0] !== candidate.instanceId || ids.at(-1) !== holder.instanceId)
        throw new Error(`holders ${v.holders.map((h) => h.nodeName).join(", ")}`);
      return v.holders.map((h) => h.nodeName).join(", ");
    },
  );
  await t.check("a VirtualIpAssignment row: sensor_failover from the holder to the candidate", async () => {
    const rows = (await network.listVipAssignments({ vip: (await vip()).id })).assignments;
    const row = rows.find((r) => r.reason === "sensor_failover");
    if (
      !row ||
      row.fromMemberId !== members.get(holder.instanceId) ||
      row.toMemberId !== members.get(candidate.instanceId)
    )
      throw new Error(JSON.stringify(rows.map((r) => [r.reason, r.fromMemberId, r.toMemberId])));
    return `${rows.length} rows: ${rows.map((r) => r.reason).join(", ")}`;
  });
}
