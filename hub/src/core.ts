/**
 * The hub's core: what every feature stands on. The database (migrated), the internal CA, the logger,
 * metrics, the fleet event log and the clock; built once from the config by `createCore`.
 */
import { join } from "node:path";
import { type CertificateAuthority, loadOrCreateCa } from "./ca/ca.ts";
import type { HubConfig } from "./config.ts";
import { createDb, type Db, type DbHandle } from "./db/client.ts";
import { migrateToLatest } from "./db/migrate.ts";
import { createEventLog, type EventLog } from "./events/event-log.ts";
import { createLogger, type Logger } from "./log.ts";
import { createMetrics, type Metrics } from "./metrics/registry.ts";

export interface Core {
  config: HubConfig;
  db: Db;
  dbDriver: DbHandle["driver"];
  ca: CertificateAuthority;
  log: Logger;
  metrics: Metrics;
  events: EventLog;
  now: () => Date;
}

/** The core plus how to close its database. */
export interface BuiltCore {
  core: Core;
  close(): Promise<void>;
}

/** Opens and migrates the database and loads (or makes) the CA. */
export async function createCore(
  config: HubConfig,
  log: Logger = createLogger({ fields: { component: "hub" } }),
): Promise<BuiltCore> {
  const target = config.databaseUrl ?? join(config.dataDir, "pglite");
  const handle = await createDb(target, { maxConnections: 10 });
  try {
    await migrateToLatest(handle);
    const db = handle.db;
    const ca = await loadOrCreateCa(db);
    const metrics = createMetrics();
    metrics.describe("powernode_events_total", "counter", "Fleet events written, by kind and severity");
    const events = createEventLog(db, log.child({ component: "events" }), (e) =>
      metrics.inc("powernode_events_total", { kind: e.kind, severity: e.severity }),
    );
    return {
      core: { config, db, dbDriver: handle.driver, ca, log, metrics, events, now: () => new Date() },
      close: () => handle.close(),
    };
  } catch (e) {
    // Already failing: the start error is what matters; a close failure on top is only logged.
    await handle
      .close()
      .catch((closeError) => log.warn("closing the database after a failed start", { error: closeError }));
    throw e;
  }
}
