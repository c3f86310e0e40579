/**
 * Pass 9, site tier: the lifecycle checks that act on real nodes without a k3s binary. Three amd64
 * QEMU nodes of one template (system-base + chrony) on a lab network, in one WireGuard mesh, form a
 * cluster made by the operator (two servers holding the API VIP, one agent). On them:
 * - a rolling module upgrade, then a broken version stopped at the canary (site-rollout.ts);
 * - the CVE drill on the real package lists (site-cve.ts);
 * - drain -> terminate -> reprovision of the agent (site-reprovision.ts);
 * - VIP failover when the holder dies, watched by the replacement's pings (site-vip.ts).
 */
import { join } from "node:path";
import { buildRecipe, loadRecipe, recipePath } from "../../hub/src/modules/index.ts";
import { buildModules, publishModules } from "../lib/built-modules.ts";
import { wrongDigestBuild } from "../lib/module-variants.ts";
import type { PassContext } from "../lib/pass.ts";
import { bootSiteNodes, type SiteNode } from "../lib/site-nodes.ts";
import { fullMesh } from "../pass3/site-tier.ts";
import { siteCveChecks } from "./site-cve.ts";
import { siteReprovisionChecks } from "./site-reprovision.ts";
import { siteRolloutChecks } from "./site-rollout.ts";
import { siteVipChecks, VIP_FAILOVER_SECONDS } from "./site-vip.ts";

const HEARTBEAT_SECONDS = 5;
const TEMPLATE = "p9-site";

export async function siteLifecycleChecks(t: PassContext): Promise<void> {
  if (t.args.arch !== "amd64") throw new Error("pass 9 site: amd64 only (three TCG nodes)");
  const [base, chrony] = await buildModules(t, "amd64", ["system-base", "chrony"]);
  if (!base || !chrony) throw new Error("modules not built");
  // A second build with other bytes (one more directory in its root): the agents fetch, verify and
  // swap it live, restarting chronyd.
  const v2 = await t.step("build chrony's second version (other bytes)", () => {
    const recipe = loadRecipe(recipePath("chrony"));
    return buildRecipe(
      {
        ...recipe,
        versionSuffix: `${recipe.versionSuffix ?? ""}.rollout2`,
        dirs: [...recipe.dirs, "/etc/chrony/rollout2"],
      },
      "amd64",
      join(t.outDir, "chrony-v2"),
    );
  });
  if (v2.manifest.metadataDigest === chrony.manifest.metadataDigest)
    throw new Error("chrony v2: the same metadata image as v1");
  const broken = wrongDigestBuild(v2, join(t.outDir, "chrony-broken")).built;
  const versions = {
    template: TEMPLATE,
    module: "chrony",
    v1: chrony.manifest.version,
    v2: v2.manifest.version,
    broken: broken.manifest.version,
  };
  const site = await bootSiteNodes(t, {
    arch: "amd64",
    count: 3,
    names: ["p9-a", "p9-b", "p9-c"],
    hub: { heartbeatSeconds: HEARTBEAT_SECONDS, vipFailoverSeconds: VIP_FAILOVER_SECONDS },
    provider: { kernelArgs: ["powernode.debug=1"] },
    lab: { name: "pass9", index: 9 },
    template: TEMPLATE,
    async beforeCreate(s) {
      await t.step(
        `publish system-base and chrony ${versions.v1}, ${versions.v2}, ${versions.broken}`,
        async () => {
          await publishModules(s, [base, chrony, v2, broken]);
          await s.provision.createTemplate({
            name: TEMPLATE,
            modules: [{ name: "system-base" }, { name: "chrony", version: versions.v1 }],
          });
        },
      );
    },
  });
  t.info(`3 nodes RUNNING ${site.secondsToRunning.toFixed(1)} s after the first CreateInstance`);
  const [a, b, c] = [...site.nodes].sort((x, y) => (x.name < y.name ? -1 : 1)) as [
    SiteNode,
    SiteNode,
    SiteNode,
  ];

  const net = await t.step("CreateNetwork and JoinNetwork for the three nodes; full mesh", async () => {
    const n = (await site.hub.network.createNetwork({ name: `p9-site-${Date.now().toString(36)}` })).network;
    if (!n) throw new Error("CreateNetwork returned no network");
    for (const x of site.nodes) await site.hub.network.joinNetwork({ network: n.id, nodeId: x.instanceId });
    t.info(
      `network ${n.name}: ${n.prefix} on wg-sdwan-${n.handle}; full mesh in ${(await fullMesh(site, n, `full mesh in ${n.name} (GetMeshHealth)`)).toFixed(1)} s`,
    );
    return n;
  });
  const cluster = await t.step(
    `cluster: ${a.name} and ${b.name} servers (VIP holders), ${c.name} agent`,
    async () => {
      const made = (await site.hub.k3s.createCluster({ nodeId: a.instanceId, network: net.id })).cluster;
      if (!made) throw new Error("CreateCluster returned no cluster");
      await site.hub.k3s.addNode({ cluster: made.id, nodeId: b.instanceId, role: "server" });
      await site.hub.k3s.addNode({ cluster: made.id, nodeId: c.instanceId, role: "agent" });
      t.info(`cluster ${made.name}: API VIP ${made.apiVip}`);
      return made;
    },
  );

  await siteRolloutChecks(t, site, versions);
  await siteCveChecks(t, site, "chrony");
  const replacement = await siteReprovisionChecks(t, site, {
    cluster: cluster.id,
    network: net,
    template: TEMPLATE,
    victim: c,
  });
  await siteVipChecks(t, site, {
    cluster: cluster.id,
    network: net,
    holder: a,
    candidate: b,
    watcher: replacement,
  });
}
