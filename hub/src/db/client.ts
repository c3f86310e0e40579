/**
 * The database handle: drizzle over postgres.js when a postgres:// URL is given, PGlite otherwise
 * (a directory, or `memory://` for tests). Both are typed as the one {@link Db}.
 */
import { mkdirSync } from "node:fs";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import * as schema from "./schema/index.ts";

/** The common drizzle type over either driver. */
export type Db = PgDatabase<PgQueryResultHKT, typeof schema>;

/** A database handle plus how to close it and which driver it uses. */
export interface DbHandle {
  db: Db;
  driver: "pglite" | "postgres";
  /** Runs drizzle's migrator for this driver over `folder`. */
  migrate(folder: string): Promise<void>;
  /** PostgreSQL only: LISTEN on `channel` (its own connection, re-established by the driver); the unlisten. */
  listen?(channel: string, fn: (payload: string) => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

/**
 * Opens the database.
 *
 * @param target a `postgres://` URL, `memory://`, or a PGlite data directory (created if missing).
 */
export async function createDb(target: string, opts: { maxConnections?: number } = {}): Promise<DbHandle> {
  if (/^postgres(ql)?:\/\//.test(target)) {
    const { default: postgres } = await import("postgres");
    const { drizzle } = await import("drizzle-orm/postgres-js");
    const client = postgres(target, { max: opts.maxConnections ?? 10, onnotice: () => {} });
    const pgDb = drizzle({ client, schema, casing: "snake_case" });
    const { migrate } = await import("drizzle-orm/postgres-js/migrator");
    return {
      db: pgDb,
      driver: "postgres",
      migrate: (migrationsFolder) => migrate(pgDb, { migrationsFolder }),
      listen: async (channel, fn) => {
        const { unlisten } = await client.listen(channel, fn);
        return unlisten;
      },
      close: () => client.end({ timeout: 5 }),
    };
  }
  const { PGlite } = await import("@electric-sql/pglite");
  const { drizzle } = await import("drizzle-orm/pglite");
  let client: InstanceType<typeof PGlite>;
  if (target === "memory://" || target === "") {
    client = new PGlite();
  } else {
    // PGlite's NodeFS makes only the last directory level. Private: it holds the whole database.
    mkdirSync(target, { recursive: true, mode: 0o700 });
    client = new PGlite(target);
  }
  await client.waitReady;
  const liteDb = drizzle({ client, schema, casing: "snake_case" });
  const { migrate } = await import("drizzle-orm/pglite/migrator");
  return {
    db: liteDb,
    driver: "pglite",
    migrate: (migrationsFolder) => migrate(liteDb, { migrationsFolder }),
    close: () => client.close(),
  };
}

/** Rows from `db.execute`: PGlite returns `{ rows }`, postgres.js an array of rows. */
export function rowsOf<T>(result: unknown): T[] {
  if (Array.isArray(result)) return result as T[];
  return ((result as { rows?: T[] }).rows ?? []) as T[];
}
