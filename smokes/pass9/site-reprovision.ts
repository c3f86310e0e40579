/**
 * Pass 9, site tier: drain -> terminate -> reprovision on real VMs. Drain takes a cluster node out of
 * service (disconnected; a bootstrap event names its instance). Terminate deletes the instance: the
 * provider stops and removes its VM, and the node leaves the cluster. Reprovision creates a
 * replacement from the same template on the same lab network. It boots, enrolls, joins the mesh (a
 * handshake with every other member) and the cluster, and node_count is back to its start value.
 */
import { existsSync } from "node:fs";
import { type Network, NodeState } from "@powernode/proto";
import type { PassContext } from "../lib/pass.ts";
import type { SiteNode, SiteNodes } from "../lib/site-nodes.ts";
import { waitFor } from "../lib/wait.ts";
import { fullMesh } from "../pass3/site-tier.ts";

/** Under TCG with the other nodes running: a boot, an enrollment and the module fetch. */
const BOOT_TIMEOUT_MS = 300_000;

export interface ReprovisionInput {
  cluster: string;
  network: Network;
  template: string;
  /** The node to replace (an agent of the cluster). */
  victim: SiteNode;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Replaces `victim`; returns the replacement (its serial log kept on failure). */
export async function siteReprovisionChecks(
  t: PassContext,
  site: SiteNodes,
  input: ReprovisionInput,
): Promise<SiteNode> {
  const { k3s, provision, fleet, network } = site.hub;
  const { cluster, victim } = input;
  const count = async () => (await k3s.getCluster({ cluster })).cluster?.nodeCount ?? -1;
  const start = await count();
  t.info(`cluster ${cluster}: node_count ${start} before the drain`);

  await t.check(`drain ${victim.name}: disconnected, a bootstrap event names its instance`, async () => {
    const r = await k3s.drainNode({ cluster, nodeId: victim.instanceId, reason: "pass 9 drill" });
    if (r.node?.status !== "disconnected") throw new Error(`status ${r.node?.status}`);
    const events = (await k3s.getCluster({ cluster })).cluster?.bootstrapEvents ?? [];
    const e = events.find((x) => x.message.includes(victim.instanceId));
    if (!e) throw new Error(`no bootstrap event names ${victim.instanceId}`);
    return `${e.phase}: ${e.message.slice(0, 120)}`;
  });

  const pid = Number(
    (await provision.getInstance({ id: victim.instanceId })).instance?.providerInfo.pid ?? 0,
  );
  await t.check(
    `terminate ${victim.name}: its VM stops, the instance is deleted, node_count ${start - 1}`,
    async () => {
      if (!(pid > 0 && alive(pid))) throw new Error(`VM pid ${pid} not running before the delete`);
      await provision.deleteInstance({ id: victim.instanceId });
      await waitFor(`VM pid ${pid} to exit`, () => !alive(pid) || undefined, { timeoutMs: 30_000 });
      const n = await count();
      if (n !== start - 1) throw new Error(`node_count ${n}, want ${start - 1}`);
      const nodes = (await k3s.listClusterNodes({ cluster })).nodes;
      if (nodes.some((x) => x.nodeId === victim.instanceId)) throw new Error("still a cluster node");
      return `pid ${pid} gone; node_count ${n}`;
    },
  );

  const t0 = performance.now();
  const replacement = await t.step(`reprovision: a replacement from template ${input.template}`, async () => {
    const res = await provision.createInstance({
      name: `${victim.name}-r`,
      arch: 1,
      provider: "qemu",
      memoryMib: 1024,
      vcpus: 1,
      network: site.lab.network,
      start: true,
      template: input.template,
    });
    const inst = res.instance;
    if (!inst) throw new Error("CreateInstance returned no instance");
    t.defer(async () => {
      await provision.deleteInstance({ id: inst.id }).catch(() => undefined);
    });
    const serialLog = inst.providerInfo.serialLog ?? "";
    t.keepOnFailure(`serial log ${inst.name}`, serialLog);
    await waitFor(
      `${inst.name} RUNNING (serial log ${serialLog})`,
      async () => (await fleet.getNode({ id: inst.id })).node?.state === NodeState.RUNNING || undefined,
      { timeoutMs: BOOT_TIMEOUT_MS, intervalMs: 500 },
    );
    return {
      instanceId: inst.id,
      name: inst.name,
      serialLog,
      mac: "",
      underlayAddress: "",
    } satisfies SiteNode;
  });
  t.info(
    `${replacement.name} RUNNING ${((performance.now() - t0) / 1000).toFixed(1)} s after CreateInstance`,
  );

  await t.check(`${replacement.name} joins the mesh: a handshake with every other member`, async () => {
    await network.joinNetwork({ network: input.network.id, nodeId: replacement.instanceId });
    const seconds = await fullMesh(site, input.network, "full mesh with the replacement (GetMeshHealth)");
    const members = (await network.listMembers({ network: input.network.id })).members.length;
    return `${members} members, full mesh ${seconds.toFixed(1)} s after JoinNetwork`;
  });
  await t.check(`${replacement.name} joins the cluster: node_count back to ${start}`, async () => {
    const r = await k3s.addNode({ cluster, nodeId: replacement.instanceId, role: "agent" });
    const n = await count();
    if (n !== start) throw new Error(`node_count ${n}, want ${start}`);
    return `role ${r.node?.role}, node_count ${n}`;
  });
  if (!existsSync(replacement.serialLog)) t.info(`(no serial log at ${replacement.serialLog})`);
  return replacement;
}
