/**
 * Bootstrap tokens: 1 hour, single use, bound to one instance, stored as sha256. Consumption is one
 * atomic UPDATE ... WHERE consumed_at IS NULL RETURNING, so of two concurrent enrollments exactly one wins.
 */
import { and, eq, gt, isNull } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { bootstrapTokens } from "../db/schema/index.ts";
import { DomainError } from "../errors.ts";
import { hashToken, newToken } from "./tokens.ts";

export const BOOTSTRAP_TOKEN_TTL_MS = 60 * 60 * 1000;

/** A freshly issued token (plaintext shown once). */
export interface IssuedBootstrapToken {
  id: string;
  token: string;
  expiresAt: Date;
}

/** Issues a new token for `instanceId`, revoking its earlier unused ones. */
export async function issueBootstrapToken(
  db: Db,
  instanceId: string,
  now = new Date(),
): Promise<IssuedBootstrapToken> {
  const token = newToken("pnb");
  const expiresAt = new Date(now.getTime() + BOOTSTRAP_TOKEN_TTL_MS);
  return db.transaction(async (tx) => {
    await tx
      .update(bootstrapTokens)
      .set({ revokedAt: now, updatedAt: now })
      .where(
        and(
          eq(bootstrapTokens.instanceId, instanceId),
          isNull(bootstrapTokens.consumedAt),
          isNull(bootstrapTokens.revokedAt),
        ),
      );
    const [row] = await tx
      .insert(bootstrapTokens)
      .values({ tokenHash: hashToken(token), instanceId, expiresAt })
      .returning({ id: bootstrapTokens.id });
    if (!row) throw new Error("inserting bootstrap token: no row returned");
    return { id: row.id, token, expiresAt };
  });
}

/** Anything with drizzle's query builder: a Db or a transaction. */
type Queryable = Pick<Db, "update" | "select">;

/**
 * Consumes `token` for `instanceId` or throws a DomainError saying why not:
 * unknown or expired -> unauthenticated, bound to another instance -> permission, used or superseded ->
 * precondition.
 */
export async function consumeBootstrapToken(
  q: Queryable,
  token: string,
  instanceId: string,
  ip: string | undefined,
  now = new Date(),
): Promise<{ id: string }> {
  if (token.length === 0) throw new DomainError("invalid_argument", "bootstrap_token: required");
  if (token.length > 256) throw new DomainError("unauthenticated", "bootstrap_token: unknown");
  const tokenHash = hashToken(token);
  const [won] = await q
    .update(bootstrapTokens)
    .set({ consumedAt: now, consumedByIp: ip ?? null, updatedAt: now })
    .where(
      and(
        eq(bootstrapTokens.tokenHash, tokenHash),
        eq(bootstrapTokens.instanceId, instanceId),
        isNull(bootstrapTokens.consumedAt),
        isNull(bootstrapTokens.revokedAt),
        gt(bootstrapTokens.expiresAt, now),
      ),
    )
    .returning({ id: bootstrapTokens.id });
  if (won) return won;
  const [row] = await q
    .select()
    .from(bootstrapTokens)
    .where(eq(bootstrapTokens.tokenHash, tokenHash))
    .limit(1);
  if (!row) throw new DomainError("unauthenticated", "bootstrap_token: unknown");
  if (row.instanceId !== instanceId) {
    throw new DomainError("permission", "bootstrap_token: not issued for this instance_uuid");
  }
  if (row.consumedAt) throw new DomainError("precondition", "bootstrap_token: already used");
  if (row.revokedAt) throw new DomainError("precondition", "bootstrap_token: superseded by a newer token");
  // Unauthenticated, not DeadlineExceeded: clients (the agent included) treat DeadlineExceeded as a
  // transient network failure and would retry a token that can never work again.
  throw new DomainError("unauthenticated", "bootstrap_token: expired");
}
