/**
 * A CVE drill, pure: the record's affected packages matched against every module version's package
 * list (Debian version order), the nodes assigned an exposed version counted, a risk score, and the
 * runbook an operator follows. The database reads are in cves.ts.
 */
import { inRange, parseRange } from "./range.ts";

export type Severity = "low" | "medium" | "high" | "critical";

export interface CveRecord {
  id: string;
  severity: Severity;
  summary: string;
  affected: { package: string; range: string }[];
}

/** A published module version with the packages its build recorded. */
export interface VersionPackages {
  module: string;
  version: string;
  arch: "amd64" | "arm64";
  packages: { name: string; version: string }[];
}

/** A node's current assignment of one module version. */
export interface NodeAssignment {
  instanceId: string;
  module: string;
  version: string;
  arch: "amd64" | "arm64";
}

export interface Exposure {
  module: string;
  version: string;
  arch: "amd64" | "arm64";
  package: string;
  installedVersion: string;
  instances: number;
}

export interface DrillResult {
  exposures: Exposure[];
  exposedModules: string[];
  exposedInstanceCount: number;
  versionsChecked: number;
  versionsWithoutPackages: number;
  riskScore: number;
  riskFormula: string;
  runbookMarkdown: string;
}

/** Weight of a severity in the risk score. */
export const SEVERITY_WEIGHT: Record<Severity, number> = { low: 1, medium: 4, high: 7, critical: 10 };

/**
 * risk = weight(severity) x (1 + log2(1 + exposed nodes)) when a version is exposed, else 0: the
 * severity sets the scale, each doubling of the exposed nodes adds one weight, and an exposed version
 * no node runs still counts once (it can be assigned). Rounded to one decimal.
 */
export function riskScore(severity: Severity, exposedVersions: number, exposedNodes: number) {
  const w = SEVERITY_WEIGHT[severity];
  if (exposedVersions === 0)
    return {
      score: 0,
      formula: `0: no module version ships an affected package version (severity ${severity})`,
    };
  const score = Math.round(w * (1 + Math.log2(1 + exposedNodes)) * 10) / 10;
  return {
    score,
    formula: `weight(${severity}) ${w} x (1 + log2(1 + ${exposedNodes} exposed nodes)) = ${score}`,
  };
}

/** Runs the drill; `assignments` are the nodes' current desired-state module assignments. */
export function drill(
  cve: CveRecord,
  versions: readonly VersionPackages[],
  assignments: readonly NodeAssignment[],
): DrillResult {
  const affected = cve.affected.map((a) => {
    const r = parseRange(a.range);
    // Records are checked when they are put: a stored one that no longer parses is a bug.
    if (!r.ok) throw new Error(`${cve.id}: affected ${a.package} range: ${r.error}`);
    return { package: a.package, relations: r.value };
  });
  const key = (m: string, v: string, arch: string) => `${m}\u0000${v}\u0000${arch}`;
  const nodesOf = new Map<string, Set<string>>();
  for (const a of assignments) {
    const k = key(a.module, a.version, a.arch);
    nodesOf.set(k, (nodesOf.get(k) ?? new Set()).add(a.instanceId));
  }
  const exposures: Exposure[] = [];
  const exposedNodes = new Set<string>();
  const exposedVersions = new Set<string>();
  let without = 0;
  for (const v of versions) {
    if (v.packages.length === 0) {
      without++;
      continue;
    }
    for (const a of affected) {
      const p = v.packages.find((x) => x.name === a.package);
      if (!p || !inRange(p.version, a.relations)) continue;
      const k = key(v.module, v.version, v.arch);
      const nodes = nodesOf.get(k) ?? new Set<string>();
      for (const n of nodes) exposedNodes.add(n);
      exposedVersions.add(k);
      exposures.push({
        module: v.module,
        version: v.version,
        arch: v.arch,
        package: p.name,
        installedVersion: p.version,
        instances: nodes.size,
      });
    }
  }
  exposures.sort(
    (x, y) =>
      x.module.localeCompare(y.module) ||
      x.version.localeCompare(y.version) ||
      x.arch.localeCompare(y.arch) ||
      x.package.localeCompare(y.package),
  );
  const exposedModules = [...new Set(exposures.map((e) => e.module))].sort();
  const risk = riskScore(cve.severity, exposedVersions.size, exposedNodes.size);
  const result = {
    exposures,
    exposedModules,
    exposedInstanceCount: exposedNodes.size,
    versionsChecked: versions.length,
    versionsWithoutPackages: without,
    riskScore: risk.score,
    riskFormula: risk.formula,
  };
  return { ...result, runbookMarkdown: runbook(cve, result) };
}

/** The runbook: what is exposed and the commands that replace it. */
export function runbook(cve: CveRecord, r: Omit<DrillResult, "runbookMarkdown">): string {
  const lines = [
    `# ${cve.id} (${cve.severity})`,
    "",
    cve.summary || "(no summary)",
    "",
    `Affected: ${cve.affected.map((a) => `\`${a.package} ${a.range}\``).join(", ")}.`,
    `Risk score ${r.riskScore}: ${r.riskFormula}.`,
    "",
  ];
  if (r.exposures.length === 0) {
    lines.push(
      `No published module version ships an affected package version (${r.versionsChecked} checked).`,
    );
  } else {
    lines.push(
      "## Exposed",
      "",
      "| module | version | arch | package | installed | nodes |",
      "| --- | --- | --- | --- | --- | --- |",
      ...r.exposures.map(
        (e) =>
          `| ${e.module} | ${e.version} | ${e.arch} | ${e.package} | ${e.installedVersion} | ${e.instances} |`,
      ),
      "",
      `${r.exposedInstanceCount} node(s) are assigned an exposed version.`,
      "",
      "## Fix",
      "",
      "Rebuild each exposed module from the current Debian lists (they carry the fixed package once",
      "Debian ships it: check with `apt-cache policy <package>`), publish it, and move the nodes to it:",
      "",
      "```sh",
    );
    for (const m of r.exposedModules) {
      const arches = [...new Set(r.exposures.filter((e) => e.module === m).map((e) => e.arch))];
      for (const arch of arches)
        lines.push(
          `pnctl module build modules/${m} --arch ${arch}`,
          `pnctl module publish modules/.out/${m}-${arch}`,
        );
    }
    lines.push(
      "# each template naming an exposed module: roll the new version over its nodes, canary first",
      ...r.exposedModules.flatMap((m) => [
        `pnctl rollout plan <template> ${m} <new version>`,
        `pnctl rollout start <template> ${m} <new version>`,
      ]),
      "# a node outside a template: assign its modules again, naming the new version",
      "pnctl instances assign <id> <module>[@<new version>] ...",
      `pnctl cve drill ${cve.id}   # again: 0 nodes on an exposed version (old versions stay listed while published)`,
      "```",
    );
  }
  if (r.versionsWithoutPackages > 0)
    lines.push(
      "",
      `${r.versionsWithoutPackages} module version(s) record no package list (published before lists were, or not built from Debian packages): they were not checked.`,
    );
  return `${lines.join("\n")}\n`;
}
