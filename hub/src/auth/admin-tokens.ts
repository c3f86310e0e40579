/**
 * Operator (admin) bearer tokens, stored hashed. On first start (no live token) one is made and written
 * only to `$POWERNODE_DATA/admin.token` (0600; the console says where, never the token). A token from
 * POWERNODE_ADMIN_TOKEN is stored as "env" and revokes the earlier env tokens. More are made and
 * revoked with `pnctl tokens` (tokens/). The checker caches answers for a few seconds only, so a
 * token revoked by another hub process is refused within {@link ADMIN_VERIFY_TTL_MS}.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { and, eq, isNull, ne } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { adminTokens } from "../db/schema/index.ts";
import type { Logger } from "../log.ts";
import { hashToken, newToken } from "./tokens.ts";

/** How long a verify answer (accepted or refused) is reused. */
export const ADMIN_VERIFY_TTL_MS = 5_000;
/** A token's `last_used_at` is written at most this often. */
export const ADMIN_LAST_USE_EVERY_MS = 60_000;
/** The name of tokens that come from POWERNODE_ADMIN_TOKEN (reserved: `pnctl tokens create` refuses it). */
export const ENV_TOKEN_NAME = "env";
/** The name of the token made on first start. */
export const FIRST_TOKEN_NAME = "admin";

/** What {@link ensureAdminToken} found or made. */
export interface AdminTokenSetup {
  /** The plaintext, when known (just made, configured, or read back from the file); "" otherwise. */
  token: string;
  /** True when this start made a new token (it is in `file`, and only there). */
  created: boolean;
  /** Where the plaintext is, if it is in a file. */
  file: string | undefined;
  /** Earlier POWERNODE_ADMIN_TOKEN tokens this start revoked. */
  replacedEnvTokens: number;
}

/** Thrown when POWERNODE_ADMIN_TOKEN names a token that was revoked. */
export class AdminTokenError extends Error {
  readonly kind = "admin_token";
  constructor(message: string) {
    super(message);
    this.name = "AdminTokenError";
  }
}

/** File under the data dir holding the plaintext admin token. */
export function adminTokenFile(dataDir: string): string {
  return join(dataDir, "admin.token");
}

/** Makes sure an admin token exists; see the module comment. */
export async function ensureAdminToken(
  db: Db,
  dataDir: string,
  configured?: string,
  now: Date = new Date(),
): Promise<AdminTokenSetup> {
  const file = adminTokenFile(dataDir);
  if (configured) {
    const hash = hashToken(configured);
    const replaced = await db.transaction(async (tx) => {
      const [row] = await tx.select().from(adminTokens).where(eq(adminTokens.tokenHash, hash));
      if (row?.revokedAt)
        throw new AdminTokenError(
          `POWERNODE_ADMIN_TOKEN: this token (${row.name}, ${row.id}) was revoked at ${row.revokedAt.toISOString()}; a revoked token stays revoked: set a new one`,
        );
      if (!row) await tx.insert(adminTokens).values({ tokenHash: hash, name: ENV_TOKEN_NAME });
      const old = await tx
        .update(adminTokens)
        .set({ revokedAt: now, updatedAt: now })
        .where(
          and(
            eq(adminTokens.name, ENV_TOKEN_NAME),
            isNull(adminTokens.revokedAt),
            ne(adminTokens.tokenHash, hash),
          ),
        )
        .returning({ id: adminTokens.id });
      return old.length;
    });
    return { token: configured, created: false, file: undefined, replacedEnvTokens: replaced };
  }
  const live = await db
    .select({ tokenHash: adminTokens.tokenHash })
    .from(adminTokens)
    .where(isNull(adminTokens.revokedAt));
  if (live.length > 0) {
    const token = existsSync(file) ? readFileSync(file, "utf8").trim() : "";
    // A file left holding a revoked token is not offered as this hub's token.
    const usable = token !== "" && live.some((r) => r.tokenHash === hashToken(token));
    return {
      token: usable ? token : "",
      created: false,
      file: usable ? file : undefined,
      replacedEnvTokens: 0,
    };
  }
  const token = newToken("pna");
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  // The file first: a start that dies after the insert must not leave a live token nobody holds.
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  await db.insert(adminTokens).values({ tokenHash: hashToken(token), name: FIRST_TOKEN_NAME });
  return { token, created: true, file, replacedEnvTokens: 0 };
}

/** Checks operator tokens, caching answers for {@link ADMIN_VERIFY_TTL_MS}. */
export interface AdminAuth {
  verify(token: string): Promise<boolean>;
  /** Drops the cache (after a token is revoked in this process). */
  invalidate(): void;
  /** How long an answer is reused (ms). */
  readonly ttlMs: number;
}

/** Options of {@link createAdminAuth}. */
export interface AdminAuthOptions {
  now?: () => number;
  ttlMs?: number;
  lastUseEveryMs?: number;
  log?: Logger;
}

/** Creates the admin token checker over `db`; records each token's last use (at most once a minute). */
export function createAdminAuth(db: Db, opts: AdminAuthOptions = {}): AdminAuth {
  const now = opts.now ?? Date.now;
  const ttlMs = opts.ttlMs ?? ADMIN_VERIFY_TTL_MS;
  const lastUseEveryMs = opts.lastUseEveryMs ?? ADMIN_LAST_USE_EVERY_MS;
  const cache = new Map<string, { id: string | undefined; until: number }>();
  const lastUseWritten = new Map<string, number>();
  const recordUse = async (id: string) => {
    const t = now();
    if (t - (lastUseWritten.get(id) ?? Number.NEGATIVE_INFINITY) < lastUseEveryMs) return;
    lastUseWritten.set(id, t);
    try {
      await db
        .update(adminTokens)
        .set({ lastUsedAt: new Date(t) })
        .where(eq(adminTokens.id, id));
    } catch (e) {
      // The call itself is authorised; a failed bookkeeping write is reported, not fatal.
      opts.log?.warn("recording an operator token's last use", { tokenId: id, error: e });
    }
  };
  return {
    ttlMs,
    async verify(token) {
      if (token.length < 16 || token.length > 512) return false;
      const h = hashToken(token);
      let hit = cache.get(h);
      if (!hit || hit.until <= now()) {
        const [row] = await db
          .select({ id: adminTokens.id })
          .from(adminTokens)
          .where(and(eq(adminTokens.tokenHash, h), isNull(adminTokens.revokedAt)))
          .limit(1);
        // Bound the cache so a flood of random tokens cannot grow memory without limit.
        if (cache.size > 10_000) cache.clear();
        hit = { id: row?.id, until: now() + ttlMs };
        cache.set(h, hit);
      }
      if (hit.id === undefined) return false;
      await recordUse(hit.id);
      return true;
    },
    invalidate: () => cache.clear(),
  };
}
