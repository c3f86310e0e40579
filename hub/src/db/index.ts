/** The hub database: handle, migrations, schema. */
export { createDb, type Db, type DbHandle, rowsOf } from "./client.ts";
export { MIGRATIONS_FOLDER, migrateToLatest } from "./migrate.ts";
export * as schema from "./schema/index.ts";
