/**
 * Operator tokens over the database: list, create (a fresh `pna_...`, name unique among live tokens)
 * and revoke (by id or name; never the last live token, so the hub cannot lock its operators out).
 * Creates and revokes serialise on one transaction-scoped advisory lock, so two concurrent creates of
 * one name, or two revokes of the last two tokens, cannot both win.
 */
import { existsSync, readFileSync, rmSync } from "node:fs";
import { and, asc, count, eq, isNull, sql } from "drizzle-orm";
import { adminTokenFile, ENV_TOKEN_NAME } from "../auth/admin-tokens.ts";
import { hashToken, newToken } from "../auth/tokens.ts";
import { adminTokens } from "../db/schema/index.ts";
import type { Deps } from "../deps.ts";
import type { Tx } from "../desired-state/index.ts";
import { DomainError } from "../errors.ts";
import { isUuid, nameField } from "../rpc/fields.ts";

/** A stored operator token (no secret: only its hash is kept). */
export type OperatorTokenRow = typeof adminTokens.$inferSelect;

type TokenDeps = Pick<Deps, "db" | "adminAuth" | "config" | "log" | "now">;

/** Arbitrary constant for pg_advisory_xact_lock: "pn tokens". */
const TOKENS_LOCK = 0x706e746b;

async function lockTokens(tx: Tx): Promise<void> {
  await tx.execute(sql`select pg_advisory_xact_lock(${TOKENS_LOCK})`);
}

/** Every token, oldest first; revoked ones only with `includeRevoked`. */
export async function listOperatorTokens(
  deps: Pick<Deps, "db">,
  opts: { includeRevoked?: boolean } = {},
): Promise<OperatorTokenRow[]> {
  return deps.db
    .select()
    .from(adminTokens)
    .where(opts.includeRevoked ? undefined : isNull(adminTokens.revokedAt))
    .orderBy(asc(adminTokens.createdAt), asc(adminTokens.id));
}

/** Makes a token named `name`; returns the row and the plaintext (shown once). */
export async function createOperatorToken(
  deps: TokenDeps,
  rawName: string,
): Promise<{ row: OperatorTokenRow; secret: string }> {
  const name = nameField("name", rawName, "token name");
  if (name === ENV_TOKEN_NAME)
    throw new DomainError(
      "invalid_argument",
      `name: "${ENV_TOKEN_NAME}" is reserved for the token from POWERNODE_ADMIN_TOKEN`,
    );
  const secret = newToken("pna");
  const row = await deps.db.transaction(async (tx) => {
    await lockTokens(tx);
    const [dup] = await tx
      .select({ id: adminTokens.id })
      .from(adminTokens)
      .where(and(eq(adminTokens.name, name), isNull(adminTokens.revokedAt)));
    if (dup) throw new DomainError("already_exists", `name: a live token "${name}" exists (${dup.id})`);
    const [r] = await tx
      .insert(adminTokens)
      .values({ tokenHash: hashToken(secret), name })
      .returning();
    if (!r) throw new Error(`token "${name}": the insert returned no row`);
    return r;
  });
  deps.log.info("operator token created", { tokenId: row.id, name });
  return { row, secret };
}

/**
 * Revokes the live token `ref` (an id, or the name of exactly one live token). Drops this process's
 * verify cache at once; removes `admin.token` when it holds that token.
 */
export async function revokeOperatorToken(
  deps: TokenDeps,
  ref: string,
): Promise<{ row: OperatorTokenRow; fileRemoved: boolean }> {
  if (ref === "") throw new DomainError("invalid_argument", "token: required (an id or a name)");
  const byId = isUuid(ref.toLowerCase());
  const at = deps.now();
  const row = await deps.db.transaction(async (tx) => {
    await lockTokens(tx);
    const matches = await tx
      .select()
      .from(adminTokens)
      .where(
        byId
          ? eq(adminTokens.id, ref.toLowerCase())
          : and(eq(adminTokens.name, ref), isNull(adminTokens.revokedAt)),
      );
    const [target] = matches;
    if (!target) throw new DomainError("not_found", `token: no live token "${ref}"`);
    if (matches.length > 1)
      throw new DomainError(
        "invalid_argument",
        `token: ${matches.length} live tokens are named "${ref}" (${matches.map((m) => m.id).join(", ")}); revoke one by id`,
      );
    if (target.revokedAt)
      throw new DomainError(
        "precondition",
        `token: ${target.id} (${target.name}) was already revoked at ${target.revokedAt.toISOString()}`,
      );
    const [live] = await tx.select({ n: count() }).from(adminTokens).where(isNull(adminTokens.revokedAt));
    if ((live?.n ?? 0) <= 1)
      throw new DomainError(
        "precondition",
        `token: ${target.id} (${target.name}) is the last live token; create another first (pnctl tokens create NAME)`,
      );
    const [r] = await tx
      .update(adminTokens)
      .set({ revokedAt: at, updatedAt: at })
      .where(eq(adminTokens.id, target.id))
      .returning();
    if (!r) throw new Error(`token ${target.id}: the update returned no row`);
    return r;
  });
  deps.adminAuth.invalidate();
  const file = adminTokenFile(deps.config.dataDir);
  let fileRemoved = false;
  if (existsSync(file) && hashToken(readFileSync(file, "utf8").trim()) === row.tokenHash) {
    rmSync(file, { force: true });
    fileRemoved = true;
  }
  deps.log.info("operator token revoked", { tokenId: row.id, name: row.name, fileRemoved });
  return { row, fileRemoved };
}
