/**
 * Registries: the OCI registries nodes may pull module artifacts from besides the hub, each with an
 * optional pull credential (sealed at rest, context `registry:<host>`), the URL nodes reach it at,
 * and whether it mirrors another registry (or the hub: `mirror_of = "hub"`).
 */
import { asc, eq } from "drizzle-orm";
import type { Core } from "../core.ts";
import type { Db } from "../db/client.ts";
import { instances, moduleVersions, registries } from "../db/schema/index.ts";
import type { Deps } from "../deps.ts";
import { getDesiredState } from "../desired-state/index.ts";
import { DomainError } from "../errors.ts";

export type RegistryRow = typeof registries.$inferSelect;

/** `mirror_of` of a mirror of the hub's own registry. */
export const HUB_ORIGIN = "hub";

/** The sealed secret's place. */
export function registryKeyContext(host: string): string {
  return `registry:${host}`;
}

const HOST_RE =
  /^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*|\[[0-9a-f:.]+\])(?::\d{1,5})?$/;

/** `http(s)://host[:port]` -> its origin and `host[:port]`, or an error naming `field`. */
export function parseRegistryUrl(field: string, raw: string): { url: string; host: string } {
  let u: URL;
  try {
    u = new URL(raw.trim());
  } catch {
    throw new DomainError("invalid_argument", `${field}: "${raw.slice(0, 200)}" is not a URL`);
  }
  if (u.protocol !== "http:" && u.protocol !== "https:")
    throw new DomainError("invalid_argument", `${field}: must be http:// or https:// (got ${u.protocol})`);
  if ((u.pathname !== "/" && u.pathname !== "") || u.search !== "" || u.hash !== "" || u.username !== "")
    throw new DomainError(
      "invalid_argument",
      `${field}: must be scheme://host[:port] only (no path or credentials)`,
    );
  return { url: u.origin, host: u.host };
}

/** A registry host as artifact references name it (`host[:port]`, lowercase). */
export function hostField(field: string, raw: string): string {
  const h = raw.trim().toLowerCase();
  if (!HOST_RE.test(h))
    throw new DomainError("invalid_argument", `${field}: "${raw.slice(0, 200)}" is not host[:port]`);
  return h;
}

export interface PutRegistryInput {
  url: string;
  nodeUrl?: string;
  mirrorOf?: string;
  priority: number;
  username?: string;
  /** undefined: keep the stored secret (when the user name is unchanged). */
  secret?: string;
  clearCredential: boolean;
  caPem?: string;
}

/** Creates or replaces a registry; returns the row and whether it is new. */
export async function putRegistry(
  deps: Pick<Deps, "db" | "keys" | "events">,
  input: PutRegistryInput,
): Promise<{ row: RegistryRow; created: boolean }> {
  const { url, host } = parseRegistryUrl("url", input.url);
  const nodeUrl = input.nodeUrl ? parseRegistryUrl("node_url", input.nodeUrl).url : null;
  const mirrorOf = input.mirrorOf
    ? input.mirrorOf === HUB_ORIGIN
      ? HUB_ORIGIN
      : hostField("mirror_of", input.mirrorOf)
    : null;
  if (mirrorOf === host) throw new DomainError("invalid_argument", `mirror_of: ${host} cannot mirror itself`);
  if (input.caPem && !input.caPem.includes("-----BEGIN CERTIFICATE-----"))
    throw new DomainError("invalid_argument", "ca_pem: not a PEM certificate bundle");
  if (input.clearCredential && input.secret)
    throw new DomainError("invalid_argument", "secret: given together with clear_credential");
  const [old] = await deps.db.select().from(registries).where(eq(registries.host, host));
  const username = input.username || null;
  let secret: string | null;
  if (input.clearCredential) secret = null;
  else if (input.secret) secret = deps.keys.seal(input.secret, registryKeyContext(host));
  else if (old && old.username === username) secret = old.secret;
  else if (username)
    throw new DomainError(
      "invalid_argument",
      `secret: required for user "${username}" (the stored one is another user's)`,
    );
  else secret = null;
  const values = {
    host,
    url,
    nodeUrl,
    mirrorOf,
    priority: input.priority,
    username: secret === null ? null : username,
    secret,
    caPem: input.caPem || null,
    updatedAt: new Date(),
  };
  const [row] = await deps.db
    .insert(registries)
    .values(values)
    .onConflictDoUpdate({ target: registries.host, set: values })
    .returning();
  if (!row) throw new Error(`putting registry ${host}: no row returned`);
  return { row, created: old === undefined };
}

export function listRegistries(db: Pick<Db, "select">): Promise<RegistryRow[]> {
  return db.select().from(registries).orderBy(asc(registries.host));
}

export async function getRegistry(db: Pick<Db, "select">, host: string): Promise<RegistryRow | undefined> {
  const [row] = await db.select().from(registries).where(eq(registries.host, host));
  return row;
}

/** Deletes a registry; refused while catalog versions live there or mirrors name it. */
export async function deleteRegistry(db: Db, host: string): Promise<void> {
  const h = hostField("host", host);
  const used = await db
    .select({ id: moduleVersions.id, version: moduleVersions.version })
    .from(moduleVersions)
    .where(eq(moduleVersions.origin, h))
    .limit(5);
  if (used.length > 0)
    throw new DomainError(
      "precondition",
      `host: ${h} holds the artifacts of ${used.length === 5 ? "5 or more" : used.length} catalog version(s) (${used.map((u) => u.version).join(", ")}); they would have nowhere to be pulled from`,
    );
  const mirrors = await db
    .select({ host: registries.host })
    .from(registries)
    .where(eq(registries.mirrorOf, h));
  if (mirrors.length > 0)
    throw new DomainError(
      "precondition",
      `host: ${h} is mirrored by ${mirrors.map((m) => m.host).join(", ")}; delete those first`,
    );
  const gone = await db.delete(registries).where(eq(registries.host, h)).returning({ host: registries.host });
  if (gone.length === 0) throw new DomainError("not_found", `host: no registry ${h}`);
}

/** Opens the stored pull credential (undefined: anonymous). */
export function openCredential(
  keys: Core["keys"],
  row: RegistryRow,
): { kind: "basic"; username: string; password: string } | { kind: "bearer"; token: string } | undefined {
  if (row.secret === null) return undefined;
  const secret = keys.open(row.secret, registryKeyContext(row.host));
  return row.username
    ? { kind: "basic", username: row.username, password: secret }
    : { kind: "bearer", token: secret };
}

/**
 * Recompiles the desired state of every node that pulls, or may now pull, from `hosts` (so a changed
 * node URL, mirror or CA reaches them). Walks the fleet's current documents: O(nodes).
 */
export async function recompilePullers(
  deps: Pick<Deps, "db" | "desiredState">,
  hosts: readonly string[],
): Promise<number> {
  const want = new Set(hosts);
  const rows = await deps.db.select({ id: instances.id }).from(instances);
  let n = 0;
  for (const { id } of rows) {
    const state = await getDesiredState(deps.db, id);
    const uses = (state.modules?.assignments ?? []).some((a) =>
      a.locations.some((l) => want.has(l.credentialHost) || (l.role === "hub" && want.has(HUB_ORIGIN))),
    );
    if (!uses) continue;
    await deps.desiredState.change(id);
    n++;
  }
  return n;
}
