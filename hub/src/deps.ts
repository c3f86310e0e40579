/**
 * Everything the hub's services need, built once from the config: database (migrated), CA, event log,
 * auth, heartbeat writer, desired-state bus, metrics and the provider registry.
 */
import { join } from "node:path";
import {
  type AdminAuth,
  type AdminTokenSetup,
  createAdminAuth,
  ensureAdminToken,
} from "./auth/admin-tokens.ts";
import { createNodeIdentityResolver, type NodeIdentityResolver } from "./auth/node-identity.ts";
import { type CertificateAuthority, loadOrCreateCa } from "./ca/ca.ts";
import type { HubConfig } from "./config.ts";
import { createDb, type Db, type DbHandle } from "./db/client.ts";
import { migrateToLatest } from "./db/migrate.ts";
import { createEventLog, type EventLog } from "./events/event-log.ts";
import { createLogger, type Logger } from "./log.ts";
import { createMetrics, type Metrics } from "./metrics/registry.ts";
import type { InstanceProvider } from "./provision/provider.ts";
import { createProviderRegistry, defaultProviders, type ProviderRegistry } from "./provision/registry.ts";
import { type AttestationChallenges, createAttestationChallenges } from "./services/node/attest.ts";
import { type AttestationChecker, createAttestationChecker } from "./services/node/attestation.ts";
import { createDesiredStateBus, type DesiredStateBus } from "./services/node/desired-state.ts";
import { createHeartbeatWriter, type HeartbeatWriter } from "./services/node/heartbeat-writer.ts";

/** The hub's dependencies, passed to every service factory. */
export interface Deps {
  config: HubConfig;
  db: Db;
  dbDriver: DbHandle["driver"];
  ca: CertificateAuthority;
  log: Logger;
  now: () => Date;
  events: EventLog;
  metrics: Metrics;
  adminAuth: AdminAuth;
  nodeIdentity: NodeIdentityResolver;
  heartbeats: HeartbeatWriter;
  attestation: AttestationChecker;
  challenges: AttestationChallenges;
  desired: DesiredStateBus;
  providers: ProviderRegistry;
}

/** Options of {@link createDeps}. */
export interface CreateDepsOptions {
  /** Providers to register besides "none"; when undefined, the default ones (QEMU if present) are loaded. */
  providers?: readonly InstanceProvider[];
  log?: Logger;
}

/** Deps plus what only the process owner needs. */
export interface BuiltDeps {
  deps: Deps;
  adminToken: AdminTokenSetup;
  close(): Promise<void>;
}

/** Opens and migrates the database, loads or makes the CA and admin token, and wires the rest. */
export async function createDeps(config: HubConfig, opts: CreateDepsOptions = {}): Promise<BuiltDeps> {
  const log = opts.log ?? createLogger({ fields: { component: "hub" } });
  const target = config.databaseUrl ?? join(config.dataDir, "pglite");
  const handle = await createDb(target, { maxConnections: 10 });
  try {
    await migrateToLatest(handle);
    const db = handle.db;
    const ca = await loadOrCreateCa(db);
    const adminToken = await ensureAdminToken(db, config.dataDir, config.adminToken);
    const metrics = createMetrics();
    metrics.describe("powernode_events_total", "counter", "Fleet events written, by kind and severity");
    metrics.describe("powernode_heartbeat_batches_total", "counter", "Heartbeat write batches committed");
    metrics.describe("powernode_heartbeat_rows_total", "counter", "Heartbeats written in batches");
    metrics.describe("powernode_heartbeat_batch_seconds", "histogram", "Time to write one heartbeat batch");
    const events = createEventLog(db, log.child({ component: "events" }), (e) =>
      metrics.inc("powernode_events_total", { kind: e.kind, severity: e.severity }),
    );
    const providers = createProviderRegistry(opts.providers ?? defaultProviders(config.dataDir, log));
    const deps: Deps = {
      config,
      db,
      dbDriver: handle.driver,
      ca,
      log,
      now: () => new Date(),
      events,
      metrics,
      adminAuth: createAdminAuth(db),
      nodeIdentity: createNodeIdentityResolver(db),
      heartbeats: createHeartbeatWriter(db, events, {
        maxInFlight: handle.driver === "postgres" ? 4 : 1,
        onBatch: (rows, seconds) => {
          metrics.inc("powernode_heartbeat_batches_total", {});
          metrics.inc("powernode_heartbeat_rows_total", {}, rows);
          metrics.observe("powernode_heartbeat_batch_seconds", {}, seconds);
        },
      }),
      attestation: createAttestationChecker(db, events),
      challenges: createAttestationChallenges(db, events),
      desired: createDesiredStateBus(),
      providers,
    };
    return {
      deps,
      adminToken,
      close: async () => {
        await deps.heartbeats.drain();
        await handle.close();
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
