/** The module catalog: modules and versions, with names and digests validated at the edge. */

import { DEB_PACKAGE_NAME } from "@powernode/debian";
import { EVENTS } from "@powernode/proto";
import { asc, eq } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { modules, moduleVersions, registries } from "../db/schema/index.ts";
import { DomainError } from "../errors.ts";
import type { EventLog } from "../events/index.ts";
import { isUuid } from "../rpc/fields.ts";
import { type ModuleSigner, simpleSigningPayload } from "../signing/module-signer.ts";

export type ModuleRecord = typeof modules.$inferSelect;
export type ModuleVersionRecord = typeof moduleVersions.$inferSelect & { moduleName: string };

const NAME_RE = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const VERSION_RE = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$/;
const HEX64_RE = /^[0-9a-f]{64}$/;
const OCI_RE = /^sha256:[0-9a-f]{64}$/;

/** Checks a module name (DNS label). */
export function assertModuleName(field: string, name: string): void {
  if (!NAME_RE.test(name)) {
    throw new DomainError(
      "invalid_argument",
      `${field}: "${name.slice(0, 64)}" must be 1-63 of a-z, 0-9, '-'`,
    );
  }
}

function isUniqueViolation(e: unknown): boolean {
  for (let c: unknown = e; c; c = (c as { cause?: unknown }).cause) {
    if ((c as { code?: unknown }).code === "23505") return true;
  }
  return false;
}

/** Creates a module. */
export async function createModule(
  db: Db,
  events: EventLog,
  input: { name: string; description: string; priority: number },
): Promise<ModuleRecord> {
  assertModuleName("name", input.name);
  if (input.description.length > 1024)
    throw new DomainError("invalid_argument", "description: longer than 1024");
  try {
    const [row] = await db.insert(modules).values(input).returning();
    if (!row) throw new Error("insert returned no row");
    await events.emit(EVENTS.catalogModuleCreated, { name: row.name, id: row.id });
    return row;
  } catch (e) {
    if (isUniqueViolation(e)) throw new DomainError("already_exists", `name: module "${input.name}" exists`);
    throw e;
  }
}

/** All modules by name. */
export function listModules(db: Db): Promise<ModuleRecord[]> {
  return db.select().from(modules).orderBy(asc(modules.name));
}

/** One module by name. */
export async function getModule(db: Db, name: string): Promise<ModuleRecord> {
  assertModuleName("name", name);
  const [row] = await db.select().from(modules).where(eq(modules.name, name));
  if (!row) throw new DomainError("not_found", `name: no module "${name}"`);
  return row;
}

/** What a new version records. */
export interface ModuleVersionInput {
  moduleName: string;
  version: string;
  arch: "amd64" | "arm64";
  fsverityDigest: string;
  verityRootHash: string;
  ociDigest: string;
  metadataSize: number;
  blobSize: number;
  /** The registry holding the artifact (a known registry's host); "" or absent: the hub. */
  origin?: string;
  /** The Debian packages it ships at exact versions (what CVE drills match). */
  packages?: { name: string; version: string }[];
}

const DEB_VERSION_RE = /^[0-9A-Za-z.+~:-]{1,128}$/;
const MAX_PACKAGES = 4096;

/** A version's package list, checked: Debian names and versions, each name once. */
function checkPackages(
  list: readonly { name: string; version: string }[],
): { name: string; version: string }[] {
  if (list.length > MAX_PACKAGES)
    throw new DomainError("invalid_argument", `packages: more than ${MAX_PACKAGES}`);
  const seen = new Set<string>();
  return list.map((p, i) => {
    if (!DEB_PACKAGE_NAME.test(p.name))
      throw new DomainError(
        "invalid_argument",
        `packages[${i}].name: "${p.name.slice(0, 64)}" is not a Debian package name`,
      );
    if (!DEB_VERSION_RE.test(p.version))
      throw new DomainError(
        "invalid_argument",
        `packages[${i}].version: "${p.version.slice(0, 64)}" is not a Debian version`,
      );
    if (seen.has(p.name))
      throw new DomainError("invalid_argument", `packages[${i}].name: "${p.name}" listed twice`);
    seen.add(p.name);
    return { name: p.name, version: p.version };
  });
}

/** Publishes a version of a module. */
export async function createModuleVersion(
  db: Db,
  events: EventLog,
  input: ModuleVersionInput,
  signer?: ModuleSigner,
): Promise<ModuleVersionRecord> {
  assertModuleName("module_name", input.moduleName);
  if (!VERSION_RE.test(input.version)) {
    throw new DomainError("invalid_argument", "version: 1-128 of A-Z a-z 0-9 . _ + -, starting alphanumeric");
  }
  if (!HEX64_RE.test(input.fsverityDigest)) {
    throw new DomainError("invalid_argument", "fsverity_digest: must be 64 lowercase hex characters");
  }
  if (!HEX64_RE.test(input.verityRootHash)) {
    throw new DomainError("invalid_argument", "verity_root_hash: must be 64 lowercase hex characters");
  }
  if (input.ociDigest !== "" && !OCI_RE.test(input.ociDigest)) {
    throw new DomainError(
      "invalid_argument",
      'oci_digest: must be "sha256:" and 64 lowercase hex characters',
    );
  }
  if (!Number.isSafeInteger(input.metadataSize) || !Number.isSafeInteger(input.blobSize)) {
    throw new DomainError("invalid_argument", "metadata_size/blob_size: too large");
  }
  const origin = (input.origin ?? "").toLowerCase();
  if (origin !== "") {
    if (input.ociDigest === "")
      throw new DomainError(
        "invalid_argument",
        `oci_digest: required with origin ${origin.slice(0, 200)} (nodes pull by digest)`,
      );
    const [known] = await db
      .select({ host: registries.host })
      .from(registries)
      .where(eq(registries.host, origin));
    if (!known)
      throw new DomainError(
        "invalid_argument",
        `origin: no registry ${origin.slice(0, 200)} (add it first: pnctl registry add <url>)`,
      );
  }
  const mod = await getModule(db, input.moduleName);
  const packages = checkPackages(input.packages ?? []);
  const { moduleName: _, ...rest } = input;
  // A version nodes pull by digest is signed (cosign simple signing) with the hub's module key.
  const signaturePayload =
    signer && input.ociDigest !== ""
      ? simpleSigningPayload(`modules/${input.moduleName}`, input.ociDigest)
      : "";
  const signature = signer && signaturePayload ? signer.sign(new TextEncoder().encode(signaturePayload)) : "";
  const values = { ...rest, origin, packages, signaturePayload, signature };
  try {
    const [row] = await db
      .insert(moduleVersions)
      .values({ ...values, moduleId: mod.id })
      .returning();
    if (!row) throw new Error("insert returned no row");
    await events.emit(EVENTS.catalogVersionPublished, {
      module: mod.name,
      version: row.version,
      arch: row.arch,
      fsverityDigest: row.fsverityDigest,
      verityRootHash: row.verityRootHash,
      ...(origin ? { origin } : {}),
    });
    return { ...row, moduleName: mod.name };
  } catch (e) {
    if (isUniqueViolation(e)) {
      throw new DomainError(
        "already_exists",
        `version: ${input.moduleName} ${input.version} (${input.arch}) exists`,
      );
    }
    throw e;
  }
}

/** The versions of a module, oldest first. */
export async function listModuleVersions(db: Db, moduleName: string): Promise<ModuleVersionRecord[]> {
  const mod = await getModule(db, moduleName);
  const rows = await db
    .select()
    .from(moduleVersions)
    .where(eq(moduleVersions.moduleId, mod.id))
    .orderBy(asc(moduleVersions.createdAt), asc(moduleVersions.version));
  return rows.map((r) => ({ ...r, moduleName: mod.name }));
}

/** One version by id. */
export async function getModuleVersion(db: Db, id: string): Promise<ModuleVersionRecord> {
  if (!isUuid(id)) throw new DomainError("invalid_argument", "id: not a UUID");
  const [row] = await db
    .select({ v: moduleVersions, moduleName: modules.name })
    .from(moduleVersions)
    .innerJoin(modules, eq(modules.id, moduleVersions.moduleId))
    .where(eq(moduleVersions.id, id));
  if (!row) throw new DomainError("not_found", `id: no module version ${id}`);
  return { ...row.v, moduleName: row.moduleName };
}
