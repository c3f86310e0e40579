/** Conversions between domain values and proto enums/messages shared by the services. */
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Arch, NodeState, Severity as ProtoSeverity } from "@powernode/proto";
import type { FleetEventRecord, Severity } from "../events/index.ts";
import type { InstanceState } from "../fleet/nodes.ts";

const STATE_TO_PROTO: Record<InstanceState, NodeState> = {
  pending: NodeState.PENDING,
  starting: NodeState.STARTING,
  running: NodeState.RUNNING,
  degraded: NodeState.DEGRADED,
  stopped: NodeState.STOPPED,
  deleted: NodeState.DELETED,
};

/** Domain instance state -> proto NodeState. */
export function toProtoState(s: InstanceState): NodeState {
  return STATE_TO_PROTO[s];
}

/** Proto NodeState -> domain state; undefined for UNSPECIFIED or unknown numbers. */
export function fromProtoState(s: NodeState): InstanceState | undefined {
  for (const [k, v] of Object.entries(STATE_TO_PROTO)) if (v === s) return k as InstanceState;
  return undefined;
}

/** Domain arch -> proto Arch. */
export function toProtoArch(a: "amd64" | "arm64"): Arch {
  return a === "arm64" ? Arch.ARM64 : Arch.AMD64;
}

/** Proto Arch -> domain arch; undefined for UNSPECIFIED or unknown numbers. */
export function fromProtoArch(a: Arch): "amd64" | "arm64" | undefined {
  if (a === Arch.AMD64) return "amd64";
  if (a === Arch.ARM64) return "arm64";
  return undefined;
}

const SEVERITY_TO_PROTO: Record<Severity, ProtoSeverity> = {
  info: ProtoSeverity.INFO,
  warn: ProtoSeverity.WARN,
  error: ProtoSeverity.ERROR,
  critical: ProtoSeverity.CRITICAL,
};

/** Proto Severity -> domain; undefined for UNSPECIFIED. */
export function fromProtoSeverity(s: ProtoSeverity): Severity | undefined {
  for (const [k, v] of Object.entries(SEVERITY_TO_PROTO)) if (v === s) return k as Severity;
  return undefined;
}

/** A stored event as a powernode.v1.FleetEvent init object. */
export function toProtoEvent(e: FleetEventRecord) {
  return {
    id: e.id,
    kind: e.kind,
    severity: SEVERITY_TO_PROTO[e.severity],
    // Struct values are JSON; the payload was stored as JSON.
    payload: e.payload as Record<string, never>,
    correlationId: e.correlationId ?? "",
    nodeId: e.nodeId ?? "",
    createdAt: timestampFromDate(e.createdAt),
  };
}
