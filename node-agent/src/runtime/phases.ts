/**
 * Phase events: timestamped milestones of the node's life (`system.kernel.booted`,
 * `system.agent.started`, `system.network.up`, `system.agent.enrolled`, `system.heartbeat.received`).
 * Each is printed on the console when it happens and buffered until ReportStatus delivers it.
 */
import type { JsonObject } from "@bufbuild/protobuf";
import { EVENTS } from "@powernode/proto";
import type { Log } from "../log.ts";
import type { Clock } from "./clock.ts";

/** The phase kinds the agent emits, in the order a boot reaches them. */
export const PHASES = {
  kernelBooted: EVENTS.kernelBooted.kind,
  agentStarted: EVENTS.agentStarted.kind,
  networkUp: EVENTS.networkUp.kind,
  agentEnrolled: EVENTS.agentEnrolled.kind,
  heartbeatReceived: EVENTS.heartbeatReceived.kind,
} as const;

export interface Phase {
  kind: string;
  /** Wall clock. */
  at: Date;
  /** Seconds since the kernel started (CLOCK_BOOTTIME). */
  uptimeSeconds: number;
  payload?: JsonObject;
  /** Delivered to the hub (a ReportStatus call succeeded with it). */
  sent: boolean;
}

export interface PhaseRecorder {
  /** Records a phase now (or at a given uptime, e.g. the kernel's handover to /init). */
  record(kind: string, opts?: { payload?: JsonObject; uptimeSeconds?: number }): Phase;
  all(): readonly Phase[];
  has(kind: string): boolean;
  /** Phases not yet delivered. */
  pending(): Phase[];
  markSent(phases: readonly Phase[]): void;
  /** Called after each record (the status reporter wakes on it). */
  subscribe(listener: (p: Phase) => void): () => void;
}

/** A recorder stamping with `clock` and printing `phase <kind> at <uptime>s` to `log`. */
export function createPhaseRecorder(clock: Clock, log?: Log): PhaseRecorder {
  const phases: Phase[] = [];
  const listeners = new Set<(p: Phase) => void>();
  return {
    record(kind, opts = {}) {
      const now = clock.now();
      const up = clock.uptimeSeconds();
      const uptimeSeconds = opts.uptimeSeconds ?? up;
      // A phase in the past (kernel boot) gets the wall time it happened at, not the time it was recorded.
      const at = new Date(now.getTime() - Math.max(0, up - uptimeSeconds) * 1000);
      const p: Phase = { kind, at, uptimeSeconds, sent: false };
      if (opts.payload) p.payload = opts.payload;
      phases.push(p);
      log?.info(`phase ${kind} at ${uptimeSeconds.toFixed(2)}s`);
      for (const l of listeners) l(p);
      return p;
    },
    all: () => phases,
    has: (kind) => phases.some((p) => p.kind === kind),
    pending: () => phases.filter((p) => !p.sent),
    markSent(sent) {
      for (const p of sent) p.sent = true;
    },
    subscribe(l) {
      listeners.add(l);
      return () => listeners.delete(l);
    },
  };
}
