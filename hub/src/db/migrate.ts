/** Applies the committed drizzle migrations (hub/drizzle) at start, before anything listens. */
import { fileURLToPath } from "node:url";
import type { DbHandle } from "./client.ts";

/**
 * Folder of the generated SQL migrations: POWERNODE_MIGRATIONS_DIR (a compiled hub, whose sources are
 * not on disk: the powernode-hub module ships them beside the binary), else the tree's hub/drizzle.
 */
export const MIGRATIONS_FOLDER =
  process.env.POWERNODE_MIGRATIONS_DIR || fileURLToPath(new URL("../../drizzle", import.meta.url));

/** Brings the schema to the latest migration; a re-run is a no-op. */
export async function migrateToLatest(handle: DbHandle): Promise<void> {
  try {
    await handle.migrate(MIGRATIONS_FOLDER);
  } catch (e) {
    throw new Error(`migrating the ${handle.driver} database: ${(e as Error).message}`, { cause: e });
  }
}
