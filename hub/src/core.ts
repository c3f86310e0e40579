/**
 * The hub's core: what every feature stands on. The database (migrated), the internal CA, the logger,
 * metrics, the fleet event log and the clock; built once from the config by `createCore`. The data dir
 * is checked private first and everything under it made private once the database has opened
 * (data-dir.ts); private keys in the database are sealed with `keys` (ca/key-at-rest.ts).
 */
import { join } from "node:path";
import { eventKind } from "@powernode/proto";
import { type CertificateAuthority, loadOrCreateCa } from "./ca/ca.ts";
import type { KeyAtRest } from "./ca/key-at-rest.ts";
import { openStoredKeys } from "./ca/stored-keys.ts";
import { type ClusterBus, createClusterBus } from "./cluster/cluster-bus.ts";
import type { HubConfig } from "./config.ts";
import { assertPrivateDataDir, privatizeTree } from "./data-dir.ts";
import { createDb, type Db, type DbHandle } from "./db/client.ts";
import { migrateToLatest } from "./db/migrate.ts";
import { createEventLog, type EventLog } from "./events/event-log.ts";
import { createLogger, type Logger } from "./log.ts";
import { createMetrics, type Metrics } from "./metrics/registry.ts";
import { loadOrCreateModuleSigner, type ModuleSigner } from "./signing/module-signer.ts";

export interface Core {
  config: HubConfig;
  db: Db;
  dbDriver: DbHandle["driver"];
  ca: CertificateAuthority;
  /** Signs module manifests (signing/module-signer.ts). */
  moduleSigner: ModuleSigner;
  /** Seals and opens the private keys stored in the database (the CA's, constellation keys). */
  keys: KeyAtRest;
  log: Logger;
  metrics: Metrics;
  events: EventLog;
  /** Wake-ups to and from other hub processes on the same PostgreSQL (cluster/cluster-bus.ts). */
  cluster: ClusterBus;
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
  assertPrivateDataDir(config.dataDir);
  const target = config.databaseUrl ?? join(config.dataDir, "pglite");
  const handle = await createDb(target, { maxConnections: 10 });
  // PGlite writes its files 0666 whatever the umask: strip group/other bits after it wrote them (and
  // again at close, for files it made while running when the process umask is not PRIVATE_UMASK).
  const privatize = () => {
    const r = privatizeTree(config.dataDir);
    if (r.changed > 0) log.debug("made data dir entries private", { dataDir: config.dataDir, ...r });
  };
  try {
    await migrateToLatest(handle);
    privatize();
    const db = handle.db;
    const { keys } = await openStoredKeys(db, {
      dataDir: config.dataDir,
      envKek: config.security.caKek,
      log,
    });
    const ca = await loadOrCreateCa(db, keys);
    const moduleSigner = await loadOrCreateModuleSigner(db, keys);
    const metrics = createMetrics();
    metrics.describe(
      "powernode_events_total",
      "counter",
      "Fleet events written, by kind (the catalog's, or other) and severity",
    );
    // Labels come from the fixed catalog: node-chosen kinds (node.*) are counted as `other`, so what a
    // node reports cannot grow /metrics.
    // Hubs sharing this PostgreSQL hear each other's changes (nothing to hear on PGlite).
    const cluster = await createClusterBus(handle, log.child({ component: "cluster" }));
    const events = createEventLog(
      db,
      log.child({ component: "events" }),
      (e) =>
        metrics.inc("powernode_events_total", {
          kind: eventKind(e.kind) ? e.kind : "other",
          severity: e.severity,
        }),
      cluster,
    );
    return {
      core: {
        config,
        db,
        dbDriver: handle.driver,
        moduleSigner,
        ca,
        keys,
        log,
        metrics,
        events,
        cluster,
        now: () => new Date(),
      },
      close: async () => {
        await cluster.close();
        await handle.close();
        try {
          privatize();
        } catch (e) {
          log.warn("making the data dir private after close", { error: e });
        }
      },
    };
  } catch (e) {
    // Already failing: the start error is what matters; a close failure on top is only logged.
    await handle
      .close()
      .catch((closeError) => log.warn("closing the database after a failed start", { error: closeError }));
    throw e;
  }
}
