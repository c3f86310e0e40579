/**
 * Pass 9, site tier: the CVE drill on real package lists. The modules the nodes run were built from
 * Debian packages, and their catalog rows record those packages at exact versions. A record naming
 * the installed chrony version finds exactly the module versions whose lists hold it, and the nodes
 * assigned one. A range just below that version finds nothing.
 */
import { CveService } from "@powernode/proto";
import { eq } from "drizzle-orm";
import { modules, moduleVersions } from "../../hub/src/db/schema/index.ts";
import { operatorClient } from "../../hub/test/harness.ts";
import type { PassContext } from "../lib/pass.ts";
import type { SiteNodes } from "../lib/site-nodes.ts";

const ID = "CVE-2026-99100";
const MISS = "CVE-2026-99101";

export async function siteCveChecks(t: PassContext, site: SiteNodes, pkg: string): Promise<void> {
  const cves = operatorClient(site.hub.hub, CveService);
  const { db } = site.hub.hub.deps;
  const rows = await db
    .select({
      module: modules.name,
      version: moduleVersions.version,
      arch: moduleVersions.arch,
      packages: moduleVersions.packages,
    })
    .from(moduleVersions)
    .innerJoin(modules, eq(modules.id, moduleVersions.moduleId));
  const installed = rows.flatMap((r) => r.packages.filter((p) => p.name === pkg).map((p) => p.version));
  const [version] = [...new Set(installed)];
  if (!version || new Set(installed).size !== 1)
    throw new Error(
      `${pkg}: the catalog's lists hold ${JSON.stringify([...new Set(installed)])}, want one version`,
    );
  const expected = rows
    .filter((r) => r.packages.some((p) => p.name === pkg && p.version === version))
    .map((r) => `${r.module} ${r.version} ${r.arch}`)
    .sort();
  t.info(`catalog: ${rows.length} module versions with lists; ${pkg} ${version} in ${expected.length}`);
  t.defer(async () => {
    for (const id of [ID, MISS]) await cves.deleteCve({ id }).catch(() => undefined);
  });

  await t.check(`${ID} (${pkg} <= ${version}) finds exactly the versions whose lists hold it`, async () => {
    await cves.putCve({
      cve: {
        id: ID,
        severity: "high",
        summary: "drill on real lists",
        affected: [{ package: pkg, range: `<= ${version}` }],
      },
    });
    const d = await cves.drillCve({ id: ID });
    const got = d.exposures.map((e) => `${e.module} ${e.version} ${e.arch}`).sort();
    if (JSON.stringify(got) !== JSON.stringify(expected))
      throw new Error(`exposed ${got.join("; ")}, want ${expected.join("; ")}`);
    if (d.exposures.some((e) => e.installedVersion !== version)) throw new Error("installed version differs");
    return `${got.length} versions (${d.exposedModules.join(", ")}), of ${d.versionsChecked} checked`;
  });
  await t.check(
    "the drill counts the nodes assigned an exposed version, scores and writes a runbook",
    async () => {
      const d = await cves.drillCve({ id: ID });
      if (d.exposedInstanceCount !== site.nodes.length)
        throw new Error(`exposed_instance_count ${d.exposedInstanceCount}, want ${site.nodes.length}`);
      if (
        !(d.riskScore > 0) ||
        !d.runbookMarkdown.includes(ID) ||
        !d.runbookMarkdown.includes("pnctl rollout start")
      )
        throw new Error(`risk ${d.riskScore}; runbook ${d.runbookMarkdown.slice(0, 120)}`);
      return `${d.exposedInstanceCount} nodes, risk ${d.riskScore.toFixed(2)} = ${d.riskFormula}`;
    },
  );
  await t.check(`${MISS} (${pkg} << ${version}) finds none`, async () => {
    await cves.putCve({
      cve: {
        id: MISS,
        severity: "low",
        summary: "drill: below",
        affected: [{ package: pkg, range: `<< ${version}` }],
      },
    });
    const d = await cves.drillCve({ id: MISS });
    if (d.exposures.length > 0 || d.exposedInstanceCount > 0)
      throw new Error(`${d.exposures.length} exposures`);
    return `0 of ${d.versionsChecked}`;
  });
}
