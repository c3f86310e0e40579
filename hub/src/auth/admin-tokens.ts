/**
 * Operator (admin) bearer tokens. One is made on first start (or taken from POWERNODE_ADMIN_TOKEN),
 * stored hashed, and for local convenience written to `$POWERNODE_DATA/admin.token` (0600).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { and, eq, isNull } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { adminTokens } from "../db/schema/index.ts";
import { hashToken, newToken } from "./tokens.ts";

/** What {@link ensureAdminToken} found or made. */
export interface AdminTokenSetup {
  /** The plaintext, when known (just made, configured, or read back from the file); "" otherwise. */
  token: string;
  /** True when this start made a new token (print it once). */
  created: boolean;
  /** Where the plaintext was written, if it was. */
  file: string | undefined;
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
): Promise<AdminTokenSetup> {
  const file = adminTokenFile(dataDir);
  if (configured) {
    await db
      .insert(adminTokens)
      .values({ tokenHash: hashToken(configured), name: "env" })
      .onConflictDoNothing();
    return { token: configured, created: false, file: undefined };
  }
  const live = await db
    .select({ id: adminTokens.id })
    .from(adminTokens)
    .where(isNull(adminTokens.revokedAt))
    .limit(1);
  if (live.length > 0) {
    const token = existsSync(file) ? readFileSync(file, "utf8").trim() : "";
    return { token, created: false, file: token ? file : undefined };
  }
  const token = newToken("pna");
  await db.insert(adminTokens).values({ tokenHash: hashToken(token), name: "admin" });
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  return { token, created: true, file };
}

/** Checks operator tokens, caching known hashes (positive and negative, bounded). */
export interface AdminAuth {
  verify(token: string): Promise<boolean>;
  /** Drops the cache (after a token is revoked). */
  invalidate(): void;
}

/** Creates the admin token checker over `db`. */
export function createAdminAuth(db: Db): AdminAuth {
  const cache = new Map<string, boolean>();
  return {
    async verify(token) {
      if (token.length < 16 || token.length > 512) return false;
      const h = hashToken(token);
      const hit = cache.get(h);
      if (hit !== undefined) return hit;
      const rows = await db
        .select({ id: adminTokens.id })
        .from(adminTokens)
        .where(and(eq(adminTokens.tokenHash, h), isNull(adminTokens.revokedAt)))
        .limit(1);
      const ok = rows.length > 0;
      // Bound the cache so a flood of random tokens cannot grow memory without limit.
      if (cache.size > 10_000) cache.clear();
      cache.set(h, ok);
      return ok;
    },
    invalidate: () => cache.clear(),
  };
}
