/** Applies the committed drizzle migrations (hub/drizzle) at start, before anything listens. */
import { fileURLToPath } from "node:url";
import type { DbHandle } from "./client.ts";

/** Folder of the generated SQL migrations. */
export const MIGRATIONS_FOLDER = fileURLToPath(new URL("../../drizzle", import.meta.url));

/** Brings the schema to the latest migration; a re-run is a no-op. */
export async function migrateToLatest(handle: DbHandle): Promise<void> {
  try {
    await handle.migrate(MIGRATIONS_FOLDER);
  } catch (e) {
    throw new Error(`migrating the ${handle.driver} database: ${(e as Error).message}`, { cause: e });
  }
}
