/**
 * The agent's session with its hub: the controller engine running every agent controller (credentials,
 * desired state, heartbeat, status report, and modules when the node has a module set). The PID 1
 * agent starts it after the boot sequence; the smokes' db tier runs the very same code in process (no
 * OS side effects beyond files in `stateDir`). The session object reads the controllers' resources.
 */
import type { Arch, DesiredState } from "@powernode/proto";
import type { RenewalOptions } from "../controllers/credentials/renew.ts";
import { currentArch, type NodeIdentity, type NodeMetrics } from "../controllers/deps.ts";
import { agentControllers } from "../controllers/index.ts";
import type { MeshOs } from "../controllers/mesh/mesh-controller.ts";
import type { ModuleSet } from "../controllers/modules/module-set.ts";
import {
  DesiredNodeState,
  HeartbeatStatus,
  HubConnection,
  HubCredentials,
} from "../controllers/resources.ts";
import { createLog, type Log, stderrSink } from "../log.ts";
import type { BackoffOptions } from "../runtime/backoff.ts";
import { type Clock, createSystemClock } from "../runtime/clock.ts";
import type { ConditionValue } from "../runtime/controller.ts";
import { type Engine, startEngine } from "../runtime/engine.ts";
import { createPhaseRecorder, PHASES, type Phase, type PhaseRecorder } from "../runtime/phases.ts";
import type { ResourceStore } from "../runtime/resource-store.ts";
import { AGENT_VERSION } from "../version.ts";

export interface AgentSessionOptions {
  identity: NodeIdentity;
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
  metrics?: NodeMetrics;
  /** The module set to drive (its owner stops it); none: the node runs no modules. */
  modules?: ModuleSet;
  /** How often mounted modules are observed for the heartbeat (default 2 s). */
  moduleObserveMs?: number;
  /** Restart a desired-state stream that was silent this long (default 60 s; the hub keepalive is 25 s). */
  watchIdleMs?: number;
  /** Certificate renewal timing (default: at 75 % of the lifetime). */
  renewal?: RenewalOptions;
  store?: ResourceStore;
  /** The OS side of the meshes (a WireGuard fake in process: the host kernel may lack WireGuard). */
  mesh?: MeshOs;
}

export interface AgentSession {
  readonly instanceUuid: string;
  readonly bootId: string;
  readonly engine: Engine;
  /** The node certificate once enrolled (or loaded). */
  certificatePem(): string | undefined;
  phaseEvents(): readonly Phase[];
  heartbeatsAcked(): number;
  /** Certificates renewed by this session. */
  certificateRenewals(): number;
  /** The last desired-state document received. */
  desiredState(): DesiredState | undefined;
  /** The hub the session talks to now (several with a scaled-out hub). */
  hubUrl(): string | undefined;
  conditions(): ConditionValue[];
  /** Resolves when `condition` holds (checked after every change); rejects naming `what` on timeout. */
  waitFor(what: string, condition: (s: AgentSession) => boolean, timeoutMs?: number): Promise<void>;
  /** Stops every controller and closes connections. */
  stop(): Promise<void>;
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
  const phases = opts.phases ?? createPhaseRecorder(clock, log);
  if (!phases.has(PHASES.agentStarted)) phases.record(PHASES.agentStarted);
  const bootId = opts.bootId ?? crypto.randomUUID();
  const controllers = agentControllers({
    identity: opts.identity,
    stateDir: opts.stateDir,
    bootId,
    agentVersion: opts.agentVersion ?? AGENT_VERSION,
    arch: opts.arch ?? currentArch(),
    backoff: opts.backoff ?? {},
    phases,
    metrics: opts.metrics ?? { zombieCount: () => 0, rssBytes: () => process.memoryUsage().rss },
    ...(opts.modules ? { modules: opts.modules } : {}),
    ...(opts.moduleObserveMs !== undefined ? { moduleObserveMs: opts.moduleObserveMs } : {}),
    ...(opts.watchIdleMs !== undefined ? { watchIdleMs: opts.watchIdleMs } : {}),
    ...(opts.renewal ? { renewal: opts.renewal } : {}),
    ...(opts.mesh ? { mesh: opts.mesh } : {}),
  });
  const engine = startEngine({ controllers, log, clock, ...(opts.store ? { store: opts.store } : {}) });
  const waiters = new Set<() => void>();
  const tell = () => {
    for (const w of waiters) w();
  };
  const unwatch = engine.store.watch(tell);
  const unsubscribe = phases.subscribe(tell);
  const store = engine.store;

  const session: AgentSession = {
    instanceUuid: opts.identity.instanceUuid,
    bootId,
    engine,
    certificatePem: () => store.get(HubCredentials, "node")?.spec.pki.certificatePem,
    phaseEvents: () => phases.all(),
    heartbeatsAcked: () => store.get(HeartbeatStatus, "node")?.spec.acked ?? 0,
    certificateRenewals: () => store.get(HubCredentials, "node")?.spec.renewals ?? 0,
    desiredState: () => store.get(DesiredNodeState, "node")?.spec,
    hubUrl: () => store.get(HubConnection, "node")?.spec.link.current().url,
    conditions: () => engine.conditions(),
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
      await engine.stop();
      unwatch();
      unsubscribe();
    },
  };
  return session;
}

export { currentArch };
