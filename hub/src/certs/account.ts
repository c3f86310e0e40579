/**
 * The hub's ACME account: one per directory URL, its key (ECDSA P-256) stored sealed
 * (`acme-account:<id>`), registered on first use and checked (the server still knows the key) by
 * preflight. `acmeClient` trusts the configured ACME server CA for the server's TLS.
 */
import { Agent } from "node:https";
import * as acme from "acme-client";
import { eq } from "drizzle-orm";
import { acmeAccounts } from "../db/schema/index.ts";
import type { Deps } from "../deps.ts";
import { DomainError } from "../errors.ts";

export type AccountDeps = Pick<Deps, "db" | "keys" | "config" | "log">;
export type AcmeAccountRow = typeof acmeAccounts.$inferSelect;

export const accountKeyContext = (id: string): string => `acme-account:${id}`;

/** The configured directory, or a precondition error saying how to configure one. */
export function directoryOf(deps: Pick<Deps, "config">): string {
  const url = deps.config.acme.directoryUrl;
  if (!url)
    throw new DomainError(
      "precondition",
      "no ACME directory configured: set POWERNODE_ACME_DIRECTORY_URL (and POWERNODE_ACME_EMAIL)",
    );
  return url;
}

let trustedPem: string | undefined;
/** acme-client's HTTP client is one axios instance: its TLS trust follows the hub's configuration. */
function trustServerCa(pem: string | undefined) {
  if (pem === trustedPem) return;
  trustedPem = pem;
  acme.axios.defaults.httpsAgent = pem ? new Agent({ ca: pem, keepAlive: false }) : undefined;
}

/** A client for the account (registered or not). */
export function acmeClient(deps: AccountDeps, row: AcmeAccountRow): acme.Client {
  trustServerCa(deps.config.acme.serverCaPem);
  return new acme.Client({
    directoryUrl: row.directoryUrl,
    accountKey: deps.keys.open(row.keyPem, accountKeyContext(row.id)),
    accountUrl: row.accountUrl ?? undefined,
    backoffAttempts: 5,
    backoffMin: 200,
    backoffMax: 2000,
  });
}

async function storedAccount(deps: AccountDeps, directoryUrl: string): Promise<AcmeAccountRow | undefined> {
  return (await deps.db.select().from(acmeAccounts).where(eq(acmeAccounts.directoryUrl, directoryUrl)))[0];
}

/** The account at the configured directory, registered now if needed; with a client for it. */
export async function ensureAccount(
  deps: AccountDeps,
): Promise<{ row: AcmeAccountRow; client: acme.Client; registeredNow: boolean }> {
  const directoryUrl = directoryOf(deps);
  let row = await storedAccount(deps, directoryUrl);
  if (!row) {
    const id = crypto.randomUUID();
    const key = (await acme.crypto.createPrivateEcdsaKey("P-256")).toString();
    await deps.db
      .insert(acmeAccounts)
      .values({
        id,
        directoryUrl,
        email: deps.config.acme.email ?? null,
        keyPem: deps.keys.seal(key, accountKeyContext(id)),
      })
      .onConflictDoNothing({ target: acmeAccounts.directoryUrl });
    row = await storedAccount(deps, directoryUrl);
    if (!row) throw new Error(`acme account for ${directoryUrl}: vanished after insert`);
  }
  const client = acmeClient(deps, row);
  if (row.accountUrl) return { row, client, registeredNow: false };
  const email = deps.config.acme.email;
  await client.createAccount({
    termsOfServiceAgreed: true,
    ...(email ? { contact: [`mailto:${email}`] } : {}),
  });
  const accountUrl = client.getAccountUrl();
  await deps.db
    .update(acmeAccounts)
    .set({ accountUrl, updatedAt: new Date() })
    .where(eq(acmeAccounts.id, row.id));
  deps.log.info("registered the ACME account", { directoryUrl, accountUrl });
  return { row: { ...row, accountUrl }, client, registeredNow: true };
}

/** Preflight: the account exists at the server (registered now on first call). */
export async function checkAccount(deps: AccountDeps): Promise<string> {
  const { row, client, registeredNow } = await ensureAccount(deps);
  if (registeredNow) return `registered ${row.accountUrl} at ${row.directoryUrl}`;
  try {
    await client.createAccount({ onlyReturnExisting: true });
  } catch (e) {
    throw new Error(
      `the ACME server at ${row.directoryUrl} does not know account ${row.accountUrl}: ${(e as Error).message}`,
      { cause: e },
    );
  }
  return `${row.accountUrl} exists at ${row.directoryUrl}`;
}
