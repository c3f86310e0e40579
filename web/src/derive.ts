/**
 * What the views read out of fleet events: a boot's phase timeline, a node's attestation status and its
 * controllers' conditions. Pure (tested); kinds come from the event catalog.
 */
import type { JsonObject } from "@bufbuild/protobuf";
import { EVENTS, type FleetEvent } from "@powernode/proto/browser";
import { dateOf } from "./format.ts";

/** The boot phases of the Node view's timeline, in order, with the event that marks each. */
export const TIMELINE_PHASES = [
  { phase: "kernel", kind: EVENTS.kernelBooted.kind },
  { phase: "agent", kind: EVENTS.agentStarted.kind },
  { phase: "network", kind: EVENTS.networkUp.kind },
  { phase: "enrolled", kind: EVENTS.agentEnrolled.kind },
  { phase: "modules", kind: EVENTS.moduleSetApplied.kind },
  { phase: "ready", kind: EVENTS.heartbeatReceived.kind },
] as const;

/** One bar: the phase reached `at` seconds after the kernel started, `took` seconds after the one before. */
export interface PhaseBar {
  phase: string;
  kind: string;
  at: number;
  took: number;
}

const num = (p: JsonObject | undefined, k: string) =>
  typeof p?.[k] === "number" ? (p[k] as number) : undefined;
const str = (p: JsonObject | undefined, k: string) =>
  typeof p?.[k] === "string" ? (p[k] as string) : undefined;

/**
 * The phase bars of one boot (`bootId`; the newest boot with agent phases when empty). Only the agent's
 * own reports count (they carry CLOCK_BOOTTIME seconds); a phase seen twice keeps its first time. Phases
 * never reported are left out, so a node without a kernel phase (in-process agent) starts at its agent.
 */
export function phaseTimeline(
  events: readonly FleetEvent[],
  bootId = "",
): { bootId: string; bars: PhaseBar[] } {
  const agentReported = events.filter(
    (e) => num(e.payload, "uptimeSeconds") !== undefined && str(e.payload, "agentAt"),
  );
  const boot = bootId || str(agentReported.at(-1)?.payload, "bootId") || "";
  const first = new Map<string, number>();
  for (const e of agentReported) {
    if (str(e.payload, "bootId") !== boot) continue;
    const at = num(e.payload, "uptimeSeconds") ?? 0;
    const had = first.get(e.kind);
    if (had === undefined || at < had) first.set(e.kind, at);
  }
  const bars: PhaseBar[] = [];
  let prev = 0;
  for (const p of TIMELINE_PHASES) {
    const at = first.get(p.kind);
    if (at === undefined) continue;
    bars.push({ phase: p.phase, kind: p.kind, at, took: Math.max(0, at - prev) });
    prev = Math.max(prev, at);
  }
  return { bootId: boot, bars };
}

/** Attestation as the Fleet and Node views show it. */
export type AttestationStatus = "verified" | "failed" | "drift" | "requested" | "none";

const ATTESTATION_KINDS = new Map<string, AttestationStatus>([
  [EVENTS.attestationVerified.kind, "verified"],
  [EVENTS.attestationFailed.kind, "failed"],
  [EVENTS.moduleDrift.kind, "drift"],
  [EVENTS.moduleVerifyFailed.kind, "failed"],
  [EVENTS.attestationRequested.kind, "requested"],
  // Back in line after drift (the hub's check of a later heartbeat).
  [EVENTS.instanceRecovered.kind, "verified"],
]);

/** Kind prefixes to load the attestation history with (ListEvents takes one prefix a call). */
export const ATTESTATION_PREFIXES = [
  "system.attestation.",
  EVENTS.moduleDrift.kind,
  EVENTS.moduleVerifyFailed.kind,
];

/** Folds events (oldest first) into the latest attestation status per node. */
export function foldAttestation(
  into: Map<string, { status: AttestationStatus; at?: Date }>,
  events: readonly FleetEvent[],
) {
  for (const e of events) {
    const status = ATTESTATION_KINDS.get(e.kind);
    if (!status || !e.nodeId) continue;
    const at = dateOf(e.createdAt);
    const had = into.get(e.nodeId);
    if (had?.at && at && at < had.at) continue;
    into.set(e.nodeId, { status, at });
  }
  return into;
}

/** One controller's condition, from the hub's `system.agent.conditions` event. */
export interface ConditionView {
  type: string;
  ok: boolean;
  reason: string;
  message: string;
  since?: string;
}

/** The newest conditions report of the events (oldest first), with its time; empty when none. */
export function latestConditions(events: readonly FleetEvent[]): { at?: Date; conditions: ConditionView[] } {
  const e = events.filter((x) => x.kind === EVENTS.agentConditions.kind).at(-1);
  const list = e?.payload?.conditions;
  if (!e || !Array.isArray(list)) return { conditions: [] };
  const conditions = list.flatMap((c) => {
    if (typeof c !== "object" || c === null || Array.isArray(c)) return [];
    const o = c as JsonObject;
    return [
      {
        type: str(o, "type") ?? "?",
        ok: o.ok === true,
        reason: str(o, "reason") ?? "",
        message: str(o, "message") ?? "",
        since: str(o, "since"),
      },
    ];
  });
  return { at: dateOf(e.createdAt), conditions };
}
