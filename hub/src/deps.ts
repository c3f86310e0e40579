/**
 * Everything the hub's features need: the core (database, CA, log, metrics, events, clock) plus the
 * shared domain services built once on it: auth, the heartbeat writer, attestation, the desired-state
 * compiler and bus, and the provider registry.
 */
import { EVENTS } from "@powernode/proto";
import {
  type AdminAuth,
  type AdminTokenSetup,
  createAdminAuth,
  ensureAdminToken,
} from "./auth/admin-tokens.ts";
import {
  createNodeIdentityResolver,
  HUB_IDENTITY_CACHE_MS,
  type NodeIdentityResolver,
} from "./auth/node-identity.ts";
import type { HubConfig } from "./config.ts";
import { type Core, createCore } from "./core.ts";
import {
  createDesiredStateBus,
  createDesiredStateCompiler,
  type DesiredStateBus,
  type DesiredStateCompiler,
  type SectionCompiler,
} from "./desired-state/index.ts";
import type { HeartbeatObserver, InstanceDeletedHook } from "./feature.ts";
import type { Logger } from "./log.ts";
import { type AttestationChallenges, createAttestationChallenges } from "./node/attestation-challenges.ts";
import { type AttestationChecker, createAttestationChecker } from "./node/attestation-check.ts";
import { createHeartbeatWriter, type HeartbeatWriter } from "./node/heartbeat-writer.ts";
import type { InstanceProvider } from "./providers/provider.ts";
import { createProviderRegistry, defaultProviders, type ProviderRegistry } from "./providers/registry.ts";

/** The hub's dependencies, passed to every feature. */
export interface Deps extends Core {
  adminAuth: AdminAuth;
  nodeIdentity: NodeIdentityResolver;
  heartbeats: HeartbeatWriter;
  attestation: AttestationChecker;
  challenges: AttestationChallenges;
  /** Wakes WatchDesiredState streams. */
  desired: DesiredStateBus;
  /** Compiles a node's whole desired state after any change (the only way a document is written). */
  desiredState: DesiredStateCompiler;
  providers: ProviderRegistry;
  /** Every feature's heartbeat observer, called by NodeService.Heartbeat. */
  heartbeatObservers: readonly HeartbeatObserver[];
  /** Every feature's hook for a deleted node, called by DeleteInstance. */
  instanceDeletedHooks: readonly InstanceDeletedHook[];
}

/** Options of {@link createDeps}. */
export interface CreateDepsOptions {
  /** Providers to register besides "none"; when undefined, the default ones (QEMU if present) are loaded. */
  providers?: readonly InstanceProvider[];
  log?: Logger;
  /** The features' desired-state section compilers. */
  sections?: readonly SectionCompiler[];
  /** The features' heartbeat observers. */
  heartbeatObservers?: readonly HeartbeatObserver[];
  /** The features' hooks for a deleted node. */
  instanceDeletedHooks?: readonly InstanceDeletedHook[];
}

/** Deps plus what only the process owner needs. */
export interface BuiltDeps {
  deps: Deps;
  adminToken: AdminTokenSetup;
  close(): Promise<void>;
}

/** Builds the core, then the shared domain services on it. */
export async function createDeps(config: HubConfig, opts: CreateDepsOptions = {}): Promise<BuiltDeps> {
  const built = await createCore(config, opts.log);
  const core = built.core;
  try {
    const { db, events, metrics, log } = core;
    const adminToken = await ensureAdminToken(db, config.dataDir, config.adminToken);
    if (adminToken.replacedEnvTokens > 0)
      log.info("POWERNODE_ADMIN_TOKEN replaced the earlier env token", {
        revoked: adminToken.replacedEnvTokens,
      });
    metrics.describe("powernode_heartbeat_batches_total", "counter", "Heartbeat write batches committed");
    metrics.describe("powernode_heartbeat_rows_total", "counter", "Heartbeats written in batches");
    metrics.describe("powernode_heartbeat_batch_seconds", "histogram", "Time to write one heartbeat batch");
    const desired = createDesiredStateBus();
    // Another hub wrote a node's new desired state: wake this hub's watchers of that node.
    core.cluster.subscribe((m) => {
      if (m.k === "desired") desired.publish(m.node, m.version);
    });
    const nodeIdentity = createNodeIdentityResolver(db, {
      ttlMs: HUB_IDENTITY_CACHE_MS,
      recheckMs: Math.min(30_000, (config.heartbeatSeconds * 1000) / 2),
      // After the change committed: a failed announcement must not fail the call that made it (the
      // other hubs then see it within their cache period).
      announce: async (change) => {
        try {
          await core.cluster.notify(
            db,
            "serial" in change
              ? { k: "identity", serial: change.serial }
              : { k: "identity", node: change.instanceId },
          );
        } catch (e) {
          log.warn("identity change not announced to the other hubs", { ...change, error: e });
        }
      },
      onSuperseded: async (nodeId, serials, by) => {
        for (const serial of serials) {
          await events.emit(
            EVENTS.certificateRevoked,
            { serial, reason: `superseded: its successor ${by} was used` },
            { nodeId },
          );
        }
      },
    });
    // Another hub revoked a certificate or ended a node: drop what this hub has cached of it.
    core.cluster.subscribe((m) => {
      if (m.k === "identity")
        nodeIdentity.forget("serial" in m ? { serial: m.serial } : { instanceId: m.node });
    });
    const deps: Deps = {
      ...core,
      adminAuth: createAdminAuth(db, { log: log.child({ component: "auth" }) }),
      // Revocations and deletions are announced to the other hubs (decision 0044), so an entry holds
      // for HUB_IDENTITY_CACHE_MS (shorter ones missed every heartbeat: a node beats every 10 s); open
      // streams re-check every half heartbeat interval (rpc/interceptors.ts).
      nodeIdentity,
      heartbeats: createHeartbeatWriter(db, events, {
        maxInFlight: core.dbDriver === "postgres" ? 4 : 1,
        onBatch: (rows, seconds) => {
          metrics.inc("powernode_heartbeat_batches_total", {});
          metrics.inc("powernode_heartbeat_rows_total", {}, rows);
          metrics.observe("powernode_heartbeat_batch_seconds", {}, seconds);
        },
      }),
      attestation: createAttestationChecker(db, events, core.now),
      challenges: createAttestationChallenges(db, events, core.cluster),
      desired,
      desiredState: createDesiredStateCompiler(core, desired, opts.sections ?? []),
      providers: createProviderRegistry(opts.providers ?? defaultProviders(config.dataDir, log)),
      heartbeatObservers: opts.heartbeatObservers ?? [],
      instanceDeletedHooks: opts.instanceDeletedHooks ?? [],
    };
    return {
      deps,
      adminToken,
      close: async () => {
        await deps.heartbeats.drain();
        await built.close();
      },
    };
  } catch (e) {
    await built
      .close()
      .catch((closeError) => core.log.warn("closing after a failed start", { error: closeError }));
    throw e;
  }
}
