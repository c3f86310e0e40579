/**
 * The agent's session with its hub: credentials (saved or Enroll), then three loops side by side:
 * Heartbeat, WatchDesiredState and ReportStatus. The PID 1 agent runs it after the boot sequence; the
 * smokes' db tier runs the very same code in process (no OS side effects beyond files in `stateDir`).
 */
import type { DesiredState } from "@powernode/proto";
import { Arch } from "@powernode/proto";
import { createLog, type Log, stderrSink } from "../log.ts";
import { createResourceStore, type ResourceStore } from "../runtime/resource-store.ts";
import { DesiredNodeState } from "../runtime/resources.ts";
import { AGENT_VERSION } from "../version.ts";
import type { BackoffOptions } from "./backoff.ts";
import { type Clock, createSystemClock } from "./clock.ts";
import {
  loopBackoff,
  type ModuleReporter,
  type SessionContext,
  type SessionIdentity,
  type SessionMetrics,
} from "./context.ts";
import { describeError } from "./describe-error.ts";
import { runDesiredStateSync } from "./desired-state-sync.ts";
import { obtainCredentials } from "./enroll.ts";
import { DEFAULT_HEARTBEAT_SECONDS, runHeartbeatLoop } from "./heartbeat.ts";
import { connectHub, createHubLink } from "./hub-client.ts";
import { createPhaseRecorder, PHASES, type Phase, type PhaseRecorder } from "./phases.ts";
import { type RenewalOptions, runCertificateRenewal } from "./renew.ts";
import { runStatusReport } from "./status-report.ts";

export interface AgentSessionOptions {
  identity: SessionIdentity;
  /** Where credentials live (`<stateDir>/pki/`); `/persist/powernode` on a node. */
  stateDir: string;
  clock?: Clock;
  log?: Log;
  /** Retry timing for every hub call (defaults: 1 s initial, cap 30 s). */
  backoff?: BackoffOptions;
  agentVersion?: string;
  arch?: Arch;
  /** Random per boot by default. */
  bootId?: string;
  /** Phases recorded before the session (the boot sequence's); a fresh recorder otherwise. */
  phases?: PhaseRecorder;
  metrics?: SessionMetrics;
  /** The module controller (observations and applied version for Heartbeat). */
  modules?: ModuleReporter;
  store?: ResourceStore;
  /** Restart a desired-state stream that was silent this long (default 60 s; the hub keepalive is 25 s). */
  watchIdleMs?: number;
  /** Certificate renewal timing (default: at 75 % of the lifetime). */
  renewal?: RenewalOptions;
}

export interface AgentSession {
  readonly instanceUuid: string;
  readonly bootId: string;
  /** The node certificate once enrolled (or loaded). */
  certificatePem(): string | undefined;
  phaseEvents(): readonly Phase[];
  heartbeatsAcked(): number;
  /** Certificates renewed by this session. */
  certificateRenewals(): number;
  /** The last desired-state document received. */
  desiredState(): DesiredState | undefined;
  /** Resolves when `condition` holds (checked after every change); rejects naming `what` on timeout. */
  waitFor(what: string, condition: (s: AgentSession) => boolean, timeoutMs?: number): Promise<void>;
  /** Stops every loop and closes connections. */
  stop(): Promise<void>;
}

/** The agent architecture as the API names it. */
export function currentArch(): Arch {
  return process.arch === "arm64" ? Arch.ARM64 : process.arch === "x64" ? Arch.AMD64 : Arch.UNSPECIFIED;
}

/**
 * Starts a session and returns at once; it runs until `stop()`, retrying whatever fails.
 * @example
 * const s = await startAgentSession({ identity, stateDir });
 * await s.waitFor("first heartbeat ack", (x) => x.heartbeatsAcked() > 0);
 */
export async function startAgentSession(opts: AgentSessionOptions): Promise<AgentSession> {
  const clock = opts.clock ?? createSystemClock();
  const log = opts.log ?? createLog(stderrSink);
  const abort = new AbortController();
  const waiters = new Set<() => void>();
  const phases = opts.phases ?? createPhaseRecorder(clock, log);
  const ctx: SessionContext = {
    identity: opts.identity,
    stateDir: opts.stateDir,
    clock,
    log,
    backoff: opts.backoff ?? {},
    agentVersion: opts.agentVersion ?? AGENT_VERSION,
    arch: opts.arch ?? currentArch(),
    bootId: opts.bootId ?? crypto.randomUUID(),
    phases,
    store: opts.store ?? createResourceStore(),
    metrics: opts.metrics ?? { zombieCount: () => 0, rssBytes: () => process.memoryUsage().rss },
    ...(opts.modules ? { modules: opts.modules } : {}),
    signal: abort.signal,
    changed: () => {
      for (const w of waiters) w();
    },
    restartWatch: () => {},
    state: { heartbeatSeconds: DEFAULT_HEARTBEAT_SECONDS, heartbeatsAcked: 0, reportsSent: 0, renewals: 0 },
  };
  const unsubscribe = phases.subscribe(() => ctx.changed());
  if (!phases.has(PHASES.agentStarted)) phases.record(PHASES.agentStarted);

  const run = async () => {
    const credentials = await obtainCredentials(ctx);
    ctx.state.pki = credentials.pki;
    if (credentials.heartbeatSeconds > 0) ctx.state.heartbeatSeconds = credentials.heartbeatSeconds;
    phases.record(PHASES.agentEnrolled, {
      payload: {
        certificate: credentials.issued ? "issued" : "reused",
        notAfter: credentials.pki.notAfter.toISOString(),
      },
    });
    const link = createHubLink(
      connectHub({
        platformUrl: ctx.identity.platformUrl,
        caPem: ctx.identity.caPem,
        clientCert: credentials.pki,
      }),
    );
    try {
      await Promise.all([
        runHeartbeatLoop(ctx, link),
        runDesiredStateSync(ctx, link, opts.watchIdleMs),
        runStatusReport(ctx, link),
        runCertificateRenewal(ctx, link, opts.renewal),
      ]);
    } finally {
      link.close();
    }
  };
  // The session never gives up: anything unexpected is logged and the whole run starts over.
  const supervise = async () => {
    const backoff = loopBackoff(ctx);
    while (!abort.signal.aborted) {
      try {
        await run();
      } catch (err) {
        if (abort.signal.aborted) break;
        const ms = backoff.next();
        log.error(`session failed (${describeError(err)}); restarting in ${(ms / 1000).toFixed(1)} s`);
        await clock.sleep(ms, abort.signal);
      }
    }
  };
  const done = supervise();

  const session: AgentSession = {
    instanceUuid: opts.identity.instanceUuid,
    bootId: ctx.bootId,
    certificatePem: () => ctx.state.pki?.certificatePem,
    phaseEvents: () => phases.all(),
    heartbeatsAcked: () => ctx.state.heartbeatsAcked,
    certificateRenewals: () => ctx.state.renewals,
    desiredState: () => ctx.store.get(DesiredNodeState, "node")?.spec,
    waitFor(what, condition, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (!condition(session)) return;
          cleanup();
          resolve();
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
    async stop() {
      abort.abort();
      await done;
      unsubscribe();
    },
  };
  return session;
}
