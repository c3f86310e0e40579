/**
 * Module assignment: templates and instances name modules (and optionally versions); the hub resolves
 * them against the catalog for the instance's arch and writes a desired state carrying the digests the
 * node must verify and where to pull each artifact from.
 */
import { and, asc, desc, eq } from "drizzle-orm";
import type { Db } from "../../db/client.ts";
import {
  type DesiredStateDocument,
  instances,
  type ModuleRefDocument,
  modules,
  moduleVersions,
  templates,
} from "../../db/schema/index.ts";
import { DomainError } from "../../errors.ts";
import type { DesiredStateBus } from "../node/desired-state.ts";
import { getDesiredState, setDesiredState } from "../node/desired-state.ts";

export type TemplateRecord = typeof templates.$inferSelect;
type Assignment = DesiredStateDocument["modules"][number];

const NAME_RE = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const VERSION_RE = /^[A-Za-z0-9][A-Za-z0-9._+~-]{0,127}$/;
const MAX_MODULES = 64;

/** Validates module references at the edge; `field` is the request field for messages. */
export function validateModuleRefs(field: string, refs: readonly ModuleRefDocument[]): ModuleRefDocument[] {
  if (refs.length > MAX_MODULES)
    throw new DomainError("invalid_argument", `${field}: more than ${MAX_MODULES}`);
  const seen = new Set<string>();
  return refs.map((r, i) => {
    if (!NAME_RE.test(r.name))
      throw new DomainError(
        "invalid_argument",
        `${field}[${i}].name: "${r.name.slice(0, 64)}" is not a module name`,
      );
    if (r.version !== "" && !VERSION_RE.test(r.version))
      throw new DomainError(
        "invalid_argument",
        `${field}[${i}].version: "${r.version.slice(0, 64)}" is not a version`,
      );
    if (seen.has(r.name))
      throw new DomainError("invalid_argument", `${field}[${i}].name: "${r.name}" listed twice`);
    seen.add(r.name);
    return { name: r.name, version: r.version };
  });
}

/** Creates a template. */
export async function createTemplate(
  db: Db,
  name: string,
  refs: readonly ModuleRefDocument[],
): Promise<TemplateRecord> {
  if (!NAME_RE.test(name))
    throw new DomainError("invalid_argument", `name: "${name.slice(0, 64)}" is not a template name`);
  const mods = validateModuleRefs("modules", refs);
  const [existing] = await db.select({ id: templates.id }).from(templates).where(eq(templates.name, name));
  if (existing) throw new DomainError("already_exists", `name: template "${name}" exists`);
  const [row] = await db.insert(templates).values({ name, modules: mods }).returning();
  if (!row) throw new Error("creating template: no row returned");
  return row;
}

export function listTemplates(db: Db): Promise<TemplateRecord[]> {
  return db.select().from(templates).orderBy(asc(templates.name));
}

/** A template by name, for CreateInstance. */
export async function templateByName(db: Db, name: string): Promise<TemplateRecord> {
  const [row] = await db.select().from(templates).where(eq(templates.name, name));
  if (!row) throw new DomainError("not_found", `template: no template "${name}"`);
  return row;
}

/** Resolves references to catalog versions of `arch`, with the artifact locations nodes pull from. */
export async function resolveModuleRefs(
  db: Db,
  arch: "amd64" | "arm64",
  refs: readonly ModuleRefDocument[],
  registryUrl: string,
  field = "modules",
): Promise<Assignment[]> {
  const out: Assignment[] = [];
  for (const [i, ref] of refs.entries()) {
    const [mod] = await db.select().from(modules).where(eq(modules.name, ref.name));
    if (!mod)
      throw new DomainError("not_found", `${field}[${i}].name: no module "${ref.name}" in the catalog`);
    const where = ref.version
      ? and(
          eq(moduleVersions.moduleId, mod.id),
          eq(moduleVersions.arch, arch),
          eq(moduleVersions.version, ref.version),
        )
      : and(eq(moduleVersions.moduleId, mod.id), eq(moduleVersions.arch, arch));
    const [v] = await db
      .select()
      .from(moduleVersions)
      .where(where)
      .orderBy(desc(moduleVersions.createdAt))
      .limit(1);
    if (!v) {
      const what = ref.version ? `version "${ref.version}"` : "no version";
      throw new DomainError("not_found", `${field}[${i}]: module "${ref.name}" has ${what} for ${arch}`);
    }
    if (!v.ociDigest) {
      throw new DomainError(
        "precondition",
        `${field}[${i}]: ${ref.name} ${v.version} (${arch}) is not in the registry (no OCI digest)`,
      );
    }
    out.push({
      name: mod.name,
      version: v.version,
      priority: mod.priority,
      ociReference: `${registryUrl}/modules/${mod.name}@${v.ociDigest}`,
      metadataDigest: v.fsverityDigest,
      verityRootHash: v.verityRootHash,
    });
  }
  return out.sort(byPriority);
}

/** Highest priority first (the order of the root overlay's lower layers), then by name. */
function byPriority(a: Assignment, b: Assignment): number {
  return b.priority - a.priority || (a.name < b.name ? -1 : 1);
}

/**
 * Sets an instance's own modules (undefined: keep them) and writes the resolved desired state. Returns
 * the new version and the assignments. Nothing is written when a reference does not resolve.
 */
export async function applyModuleAssignment(
  deps: { db: Db; desired: DesiredStateBus; config: { nodeHttpUrl: string } },
  instanceId: string,
  own: readonly ModuleRefDocument[] | undefined,
): Promise<{ version: number; modules: Assignment[] }> {
  const [inst] = await deps.db.select().from(instances).where(eq(instances.id, instanceId));
  if (!inst || inst.state === "deleted")
    throw new DomainError("not_found", `instance_id: no instance ${instanceId}`);
  const mine = own === undefined ? inst.modules : validateModuleRefs("modules", own);
  const [tpl] = inst.templateId
    ? await deps.db.select().from(templates).where(eq(templates.id, inst.templateId))
    : [];
  // Resolved apart so an error names the field it came from; the instance's own entries win by name.
  const url = deps.config.nodeHttpUrl;
  const ownResolved = await resolveModuleRefs(deps.db, inst.arch, mine, url, "modules");
  const fromTemplate = tpl
    ? await resolveModuleRefs(deps.db, inst.arch, tpl.modules, url, `template "${tpl.name}" modules`)
    : [];
  const names = new Set(ownResolved.map((m) => m.name));
  const resolved = [...ownResolved, ...fromTemplate.filter((m) => !names.has(m.name))].sort(byPriority);
  if (own !== undefined) {
    await deps.db
      .update(instances)
      .set({ modules: mine, updatedAt: new Date() })
      .where(eq(instances.id, instanceId));
  }
  const current = await getDesiredState(deps.db, instanceId);
  const version = await setDesiredState(
    deps.db,
    instanceId,
    { modules: resolved, extra: current.document.extra },
    {
      bus: deps.desired,
    },
  );
  return { version, modules: resolved };
}
