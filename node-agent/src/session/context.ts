/** What the session's loops share: options, the shared mutable state, and the retry helper. */
import type { Arch } from "@powernode/proto";
import type { Log } from "../log.ts";
import type { NodePki } from "../pki/pki-store.ts";
import type { ResourceStore } from "../runtime/resource-store.ts";
import { type Backoff, type BackoffOptions, createBackoff } from "./backoff.ts";
import type { Clock } from "./clock.ts";
import { describeError, isUnreachable, isUntrustedHub } from "./describe-error.ts";
import type { PhaseRecorder } from "./phases.ts";

/** The identity fields a session needs (see identity/parse-identity.ts for where they come from). */
export interface SessionIdentity {
  instanceUuid: string;
  bootstrapToken: string;
  platformUrl: string;
  caPem: string;
}

/** Node observations for Heartbeat; the agent reads /proc, in process they default to harmless values. */
export interface SessionMetrics {
  zombieCount(): number;
  rssBytes(): number;
  /** Child processes the agent started since boot (0 when absent). */
  childrenSpawned?(): number;
}

/** One Heartbeat.modules entry (see modules/controller.ts). */
export interface ModuleObservationReport {
  name: string;
  version: string;
  metadataDigest: string;
  verityRootHash: string;
  state: string;
  message: string;
}

/** What the module controller tells the heartbeat: observations and the version whose set is in effect. */
export interface ModuleReporter {
  observe(): ModuleObservationReport[];
  appliedVersion(): bigint | undefined;
}

export interface SessionContext {
  identity: SessionIdentity;
  stateDir: string;
  clock: Clock;
  log: Log;
  backoff: BackoffOptions;
  agentVersion: string;
  arch: Arch;
  bootId: string;
  phases: PhaseRecorder;
  store: ResourceStore;
  metrics: SessionMetrics;
  /** The module controller's view; without one, the stored desired version counts as applied. */
  modules?: ModuleReporter;
  signal: AbortSignal;
  /** Wakes `waitFor` callers after any change. */
  changed(): void;
  /** Restarts the desired-state stream (set by the sync loop; a no-op when none is open). */
  restartWatch(reason: string): void;
  state: {
    pki?: NodePki;
    heartbeatSeconds: number;
    heartbeatsAcked: number;
    reportsSent: number;
    renewals: number;
  };
}

/** A backoff for one loop, from the session's options. */
export function loopBackoff(ctx: SessionContext): Backoff {
  return createBackoff(ctx.backoff);
}

/** Logs a failed hub call ("heartbeat: hub unreachable (ECONNREFUSED), retrying in 4.2 s") and waits. */
export async function waitBeforeRetry(
  ctx: SessionContext,
  what: string,
  err: unknown,
  backoff: Backoff,
): Promise<void> {
  const ms = backoff.next();
  const verb = isUntrustedHub(err)
    ? "hub certificate not trusted"
    : isUnreachable(err)
      ? "hub unreachable"
      : "hub refused";
  ctx.log.warn(`${what}: ${verb} (${describeError(err)}), retrying in ${(ms / 1000).toFixed(1)} s`);
  await ctx.clock.sleep(ms, ctx.signal);
}
