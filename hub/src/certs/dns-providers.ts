/**
 * DNS providers, the domain side: create (settings checked by building the solver once, secret
 * sealed as `dns-provider:<id>`), list, delete (refused while a certificate uses it), and the solver
 * of a stored row.
 */
import { asc, eq, or } from "drizzle-orm";
import { acmeCertificates, dnsProviders } from "../db/schema/index.ts";
import type { Deps } from "../deps.ts";
import { DomainError } from "../errors.ts";
import { isUuid } from "../rpc/fields.ts";
import { createSolver } from "./solvers/providers.ts";
import { DNS_PROVIDER_TYPES, type DnsProviderType, type DnsSolver } from "./solvers/solver.ts";

export type DnsProviderRow = typeof dnsProviders.$inferSelect;
type ProviderDeps = Pick<Deps, "db" | "keys">;

export const dnsProviderSecretContext = (id: string): string => `dns-provider:${id}`;

const SETTING_KEYS = new Set(["zone", "server", "key_name", "algorithm", "api_url", "resolver", "url"]);

export function isProviderType(t: string): t is DnsProviderType {
  return (DNS_PROVIDER_TYPES as readonly string[]).includes(t);
}

export async function createDnsProvider(
  deps: ProviderDeps,
  input: { name: string; type: string; settings: Record<string, string>; secret: string },
): Promise<DnsProviderRow> {
  if (!isProviderType(input.type))
    throw new DomainError(
      "invalid_argument",
      `type: "${input.type}" is not one of ${DNS_PROVIDER_TYPES.join(", ")}`,
    );
  for (const k of Object.keys(input.settings))
    if (!SETTING_KEYS.has(k))
      throw new DomainError(
        "invalid_argument",
        `settings.${k}: unknown (known: ${[...SETTING_KEYS].join(", ")})`,
      );
  try {
    createSolver({ name: input.name, type: input.type, settings: input.settings, secret: input.secret });
  } catch (e) {
    throw new DomainError("invalid_argument", (e as Error).message);
  }
  const id = crypto.randomUUID();
  const rows = await deps.db
    .insert(dnsProviders)
    .values({
      id,
      name: input.name,
      type: input.type,
      settings: input.settings,
      secret: input.secret ? deps.keys.seal(input.secret, dnsProviderSecretContext(id)) : null,
    })
    .onConflictDoNothing({ target: dnsProviders.name })
    .returning();
  const row = rows[0];
  if (!row) throw new DomainError("already_exists", `name: a DNS provider ${input.name} exists`);
  return row;
}

export async function listDnsProviders(deps: ProviderDeps): Promise<DnsProviderRow[]> {
  return deps.db.select().from(dnsProviders).orderBy(asc(dnsProviders.name));
}

export async function getDnsProvider(
  deps: ProviderDeps,
  ref: string,
  field = "provider",
): Promise<DnsProviderRow> {
  const where = isUuid(ref)
    ? or(eq(dnsProviders.id, ref), eq(dnsProviders.name, ref))
    : eq(dnsProviders.name, ref);
  const [row] = await deps.db.select().from(dnsProviders).where(where);
  if (!row) throw new DomainError("not_found", `${field}: no DNS provider ${ref}`);
  return row;
}

export async function deleteDnsProvider(deps: ProviderDeps, ref: string): Promise<void> {
  const row = await getDnsProvider(deps, ref);
  const users = await deps.db
    .select({ name: acmeCertificates.name })
    .from(acmeCertificates)
    .where(eq(acmeCertificates.dnsProviderId, row.id));
  if (users.length > 0)
    throw new DomainError(
      "precondition",
      `provider: ${row.name} answers the challenges of ${users.map((u) => u.name).join(", ")}: revoke those first`,
    );
  await deps.db.delete(dnsProviders).where(eq(dnsProviders.id, row.id));
}

/** The solver of a stored provider (its secret opened). */
export function solverOf(deps: Pick<Deps, "keys">, row: DnsProviderRow): DnsSolver {
  if (!isProviderType(row.type)) throw new Error(`DNS provider ${row.name}: unknown type ${row.type}`);
  return createSolver({
    name: row.name,
    type: row.type,
    settings: row.settings,
    secret: row.secret ? deps.keys.open(row.secret, dnsProviderSecretContext(row.id)) : "",
  });
}
