/**
 * CVE records in the database (checked at the edge: id, severity, package names, ranges) and the
 * drill's reads: every module version with its package list, every live node's current module
 * assignments.
 */
import { DEB_PACKAGE_NAME } from "@powernode/debian";
import { and, asc, eq, ne } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import {
  type CveAffectedDocument,
  cves,
  desiredStates,
  instances,
  modules,
  moduleVersions,
} from "../db/schema/index.ts";
import { DomainError } from "../errors.ts";
import { type CveRecord, type DrillResult, drill, type NodeAssignment, type Severity } from "./drill.ts";
import { parseRange } from "./range.ts";

export type CveRow = typeof cves.$inferSelect;

const ID_RE = /^CVE-\d{4}-\d{4,19}$/;
const SEVERITIES: readonly Severity[] = ["low", "medium", "high", "critical"];
const MAX_AFFECTED = 64;

/** A record from a request, checked; every error names the field. */
export function checkCve(input: CveRecord): CveRecord {
  if (!ID_RE.test(input.id))
    throw new DomainError(
      "invalid_argument",
      `cve.id: "${input.id.slice(0, 40)}" is not CVE-<year>-<digits>`,
    );
  if (!SEVERITIES.includes(input.severity))
    throw new DomainError(
      "invalid_argument",
      `cve.severity: "${String(input.severity).slice(0, 20)}" is not one of ${SEVERITIES.join(", ")}`,
    );
  if (input.summary.length > 4096)
    throw new DomainError("invalid_argument", "cve.summary: over 4096 characters");
  if (input.affected.length === 0 || input.affected.length > MAX_AFFECTED)
    throw new DomainError("invalid_argument", `cve.affected: 1 to ${MAX_AFFECTED} packages`);
  const seen = new Set<string>();
  const affected: CveAffectedDocument[] = input.affected.map((a, i) => {
    if (seen.has(a.package))
      throw new DomainError(
        "invalid_argument",
        `cve.affected[${i}].package: "${a.package.slice(0, 64)}" listed twice (join its ranges into one entry per package)`,
      );
    seen.add(a.package);
    if (!DEB_PACKAGE_NAME.test(a.package))
      throw new DomainError(
        "invalid_argument",
        `cve.affected[${i}].package: "${a.package.slice(0, 64)}" is not a Debian package name`,
      );
    const r = parseRange(a.range);
    if (!r.ok) throw new DomainError("invalid_argument", `cve.affected[${i}].range: ${r.error}`);
    return { package: a.package, range: r.value.map((x) => `${x.op} ${x.version}`).join(", ") };
  });
  return { id: input.id, severity: input.severity, summary: input.summary, affected };
}

/** Creates or replaces a record. */
export async function putCve(db: Db, input: CveRecord): Promise<CveRow> {
  const c = checkCve(input);
  const now = new Date();
  const [row] = await db
    .insert(cves)
    .values({ ...c, updatedAt: now })
    .onConflictDoUpdate({
      target: cves.id,
      set: { severity: c.severity, summary: c.summary, affected: c.affected, updatedAt: now },
    })
    .returning();
  if (!row) throw new Error("putting a CVE: no row returned");
  return row;
}

export function listCves(db: Db): Promise<CveRow[]> {
  return db.select().from(cves).orderBy(asc(cves.id));
}

export async function getCve(db: Db, id: string): Promise<CveRow> {
  const [row] = await db.select().from(cves).where(eq(cves.id, id));
  if (!row) throw new DomainError("not_found", `id: no CVE record "${id.slice(0, 40)}"`);
  return row;
}

export async function deleteCve(db: Db, id: string): Promise<void> {
  const gone = await db.delete(cves).where(eq(cves.id, id)).returning({ id: cves.id });
  if (gone.length === 0) throw new DomainError("not_found", `id: no CVE record "${id.slice(0, 40)}"`);
}

/** Every live node's current desired-state module assignments. */
async function nodeAssignments(db: Db): Promise<NodeAssignment[]> {
  const rows = await db
    .select({ id: instances.id, arch: instances.arch, document: desiredStates.document })
    .from(instances)
    .innerJoin(
      desiredStates,
      and(eq(desiredStates.instanceId, instances.id), eq(desiredStates.version, instances.desiredVersion)),
    )
    .where(ne(instances.state, "deleted"));
  return rows.flatMap((r) => {
    const doc = r.document as { modules?: { assignments?: { name?: string; version?: string }[] } };
    return (doc.modules?.assignments ?? []).map((a) => ({
      instanceId: r.id,
      module: a.name ?? "",
      version: a.version ?? "",
      arch: r.arch,
    }));
  });
}

/** Runs the drill for record `id` against the catalog and the fleet as they are now. */
export async function drillCve(db: Db, id: string): Promise<{ cve: CveRow; result: DrillResult }> {
  const cve = await getCve(db, id);
  const versions = await db
    .select({
      module: modules.name,
      version: moduleVersions.version,
      arch: moduleVersions.arch,
      packages: moduleVersions.packages,
    })
    .from(moduleVersions)
    .innerJoin(modules, eq(modules.id, moduleVersions.moduleId));
  return { cve, result: drill(cve, versions, await nodeAssignments(db)) };
}
