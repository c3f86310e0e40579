/**
 * Module assignment: templates and instances name modules (and optionally versions); the hub resolves
 * them against the catalog for the instance's arch and writes a desired state carrying the digests the
 * node must verify and where to pull each artifact from.
 */
import { join } from "node:path";
import { and, asc, desc, eq } from "drizzle-orm";
import type { HubConfig } from "../config.ts";
import type { Db } from "../db/client.ts";
import { instances, type ModuleRefDocument, modules, moduleVersions, templates } from "../db/schema/index.ts";
import type { Deps } from "../deps.ts";
import { defineSection, type NodeRow } from "../desired-state/index.ts";
import { DomainError } from "../errors.ts";
import { createManifestStore } from "../oci/manifest-store.ts";
import { parseDigest } from "../oci/reference.ts";
import { type LocationInit, pullLocations, UnknownOriginError } from "../registries/locations.ts";
import { listRegistries, type RegistryRow } from "../registries/registries.ts";
import { isUuid } from "../rpc/fields.ts";

export type TemplateRecord = typeof templates.$inferSelect;
/** One resolved module: what ModuleAssignment carries. */
export interface Assignment {
  name: string;
  version: string;
  priority: number;
  ociReference: string;
  metadataDigest: string;
  verityRootHash: string;
  /** Where to pull it, in order (mirrors, origin, hub); `ociReference` is the first. */
  locations: LocationInit[];
  /** Environment for its services, from the template's or instance's reference. */
  env: Record<string, string>;
  /** The catalog's signature of the manifest digest (cosign simple signing; "" unsigned). */
  signaturePayload: string;
  signature: string;
}

/** Where artifacts can be pulled from: gathered once per compile. */
export interface PullContext {
  /** The hub's registry as nodes reach it. */
  hubUrl: string;
  registries: readonly RegistryRow[];
  /** The hub's own registry holds manifest `digest` in `repository` (a copy of an external artifact). */
  hubHolds(repository: string, digest: string): Promise<boolean>;
}

/** The pull context of a hub: its registry URL for nodes, the known registries, its OCI storage. */
export async function pullContext(
  db: Pick<Db, "select">,
  config: Pick<HubConfig, "moduleRegistryUrl" | "nodeUrl" | "dataDir">,
): Promise<PullContext> {
  const store = createManifestStore(join(config.dataDir, "oci"));
  return {
    hubUrl: moduleRegistryUrl(config),
    registries: await listRegistries(db),
    hubHolds: async (repository, digest) => {
      const d = parseDigest(digest);
      return d.ok && (await store.get(repository, d.value).catch(() => undefined)) !== undefined;
    },
  };
}

const NAME_RE = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const VERSION_RE = /^[A-Za-z0-9][A-Za-z0-9._+~-]{0,127}$/;
const MAX_MODULES = 64;
const ENV_NAME_RE = /^[A-Z_][A-Z0-9_]{0,127}$/;
const MAX_ENV = 64;
const MAX_ENV_VALUE = 4096;

/** A reference's environment, checked: names, count, value sizes, no NUL (execve cannot carry one). */
function validateEnv(field: string, env: Record<string, string> | undefined): Record<string, string> {
  const entries = Object.entries(env ?? {});
  if (entries.length > MAX_ENV)
    throw new DomainError("invalid_argument", `${field}: more than ${MAX_ENV} variables`);
  for (const [k, v] of entries) {
    if (!ENV_NAME_RE.test(k))
      throw new DomainError(
        "invalid_argument",
        `${field}: "${k.slice(0, 64)}" is not a variable name ([A-Z_][A-Z0-9_]*)`,
      );
    if (typeof v !== "string" || Buffer.byteLength(v) > MAX_ENV_VALUE)
      throw new DomainError("invalid_argument", `${field}.${k}: longer than ${MAX_ENV_VALUE} bytes`);
    if (v.includes("\0")) throw new DomainError("invalid_argument", `${field}.${k}: holds a NUL byte`);
  }
  return Object.fromEntries(entries.sort(([a], [b]) => (a < b ? -1 : 1)));
}

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
    const env = validateEnv(`${field}[${i}].env`, r.env);
    return { name: r.name, version: r.version, ...(Object.keys(env).length > 0 ? { env } : {}) };
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

/** A template by id or name, or not_found naming `field`. */
export async function templateByRef(db: Pick<Db, "select">, field: string, ref: string) {
  if (ref === "") throw new DomainError("invalid_argument", `${field}: required (a template's id or name)`);
  const byId = isUuid(ref.toLowerCase());
  const [row] = await db
    .select()
    .from(templates)
    .where(byId ? eq(templates.id, ref.toLowerCase()) : eq(templates.name, ref));
  if (!row) throw new DomainError("not_found", `${field}: no template ${JSON.stringify(ref.slice(0, 80))}`);
  return row;
}

/** A template by name, for CreateInstance. */
export async function templateByName(db: Db, name: string): Promise<TemplateRecord> {
  const [row] = await db.select().from(templates).where(eq(templates.name, name));
  if (!row) throw new DomainError("not_found", `template: no template "${name}"`);
  return row;
}

/** Resolves references to catalog versions of `arch`, with the artifact locations nodes pull from. */
export async function resolveModuleRefs(
  db: Pick<Db, "select">,
  arch: "amd64" | "arm64",
  refs: readonly ModuleRefDocument[],
  pull: PullContext,
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
    const repository = `modules/${mod.name}`;
    let locations: LocationInit[];
    try {
      locations = pullLocations({
        origin: v.origin,
        repository,
        digest: v.ociDigest,
        hubUrl: pull.hubUrl,
        hubHolds: v.origin === "" || (await pull.hubHolds(repository, v.ociDigest)),
        registries: pull.registries,
      });
    } catch (e) {
      if (!(e instanceof UnknownOriginError)) throw e;
      throw new DomainError(
        "precondition",
        `${field}[${i}]: ${ref.name} ${v.version} (${arch}): ${e.message}`,
      );
    }
    out.push({
      name: mod.name,
      version: v.version,
      priority: mod.priority,
      ociReference: locations[0]?.ociReference ?? "",
      metadataDigest: v.fsverityDigest,
      verityRootHash: v.verityRootHash,
      locations,
      env: { ...(ref.env ?? {}) },
      signaturePayload: v.signaturePayload,
      signature: v.signature,
    });
  }
  return out.sort(byPriority);
}

/** Highest priority first (the order of the root overlay's lower layers), then by name. */
function byPriority(a: Assignment, b: Assignment): number {
  return b.priority - a.priority || (a.name < b.name ? -1 : 1);
}

/** The instance's own modules (which win by name) on top of its template's, resolved for its arch. */
export async function resolveNodeModules(
  db: Pick<Db, "select">,
  node: Pick<NodeRow, "arch" | "modules" | "templateId">,
  pull: PullContext,
  own: readonly ModuleRefDocument[] = node.modules,
): Promise<Assignment[]> {
  const [tpl] = node.templateId
    ? await db.select().from(templates).where(eq(templates.id, node.templateId))
    : [];
  // Resolved apart so an error names the field it came from.
  const ownResolved = await resolveModuleRefs(db, node.arch, own, pull, "modules");
  const fromTemplate = tpl
    ? await resolveModuleRefs(db, node.arch, tpl.modules, pull, `template "${tpl.name}" modules`)
    : [];
  const names = new Set(ownResolved.map((m) => m.name));
  return [...ownResolved, ...fromTemplate.filter((m) => !names.has(m.name))].sort(byPriority);
}

/**
 * Where nodes pull module artifacts: POWERNODE_MODULE_REGISTRY_URL, else the mTLS listener as nodes
 * reach it (`nodeUrl`), which serves the registry's reads over TLS (the node trusts the hub CA).
 */
export function moduleRegistryUrl(config: Pick<HubConfig, "moduleRegistryUrl" | "nodeUrl">): string {
  return (config.moduleRegistryUrl ?? config.nodeUrl).replace(/\/+$/, "");
}

/** The `modules` section: the resolved assignments, with the digests the node must verify. */
export const modulesSection = defineSection({
  section: "modules",
  async compile(tx, node, core) {
    return {
      assignments: await resolveNodeModules(tx, node, await pullContext(tx, core.config)),
      signingKeyPem: core.moduleSigner.publicPem,
    };
  },
});

/**
 * Sets an instance's own modules (undefined: keep them) and compiles its desired state. Returns the new
 * version and the assignments. Nothing is written when a reference does not resolve.
 */
export async function applyModuleAssignment(
  deps: Pick<Deps, "desiredState" | "config">,
  instanceId: string,
  own: readonly ModuleRefDocument[] | undefined,
): Promise<{ version: number; modules: Assignment[] }> {
  const mine = own === undefined ? undefined : validateModuleRefs("modules", own);
  const { version, state } = await deps.desiredState.change(instanceId, async (tx, node) => {
    if (mine === undefined) return;
    // Resolved before the write so a bad reference fails the call naming the request field.
    await resolveNodeModules(tx, node, await pullContext(tx, deps.config), mine);
    await tx
      .update(instances)
      .set({ modules: mine, updatedAt: new Date() })
      .where(eq(instances.id, instanceId));
  });
  return {
    version,
    modules: (state.modules?.assignments ?? []).map((m) => ({
      name: m.name,
      version: m.version,
      priority: m.priority,
      ociReference: m.ociReference,
      metadataDigest: m.metadataDigest,
      verityRootHash: m.verityRootHash,
      locations: m.locations.map((l) => ({
        ociReference: l.ociReference,
        role: l.role,
        credentialHost: l.credentialHost,
        caPem: l.caPem,
      })),
      env: { ...m.env },
      signaturePayload: m.signaturePayload,
      signature: m.signature,
    })),
  };
}
