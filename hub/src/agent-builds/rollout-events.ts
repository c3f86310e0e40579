/** The events of an agent rollout: one per step that ends or starts, one when the rollout ends. */
import { EVENTS, withSeverity } from "@powernode/proto";
import type { NewEvent } from "../events/index.ts";
import type { AgentRolloutRow, AgentRolloutStepRow } from "./rollouts.ts";

/** `system.agent.rollout_step`: a step moved to `step.state` (on the node's timeline too). */
export function stepEvent(r: AgentRolloutRow, step: AgentRolloutStepRow): NewEvent {
  const kind =
    step.state === "failed" ? withSeverity(EVENTS.agentRolloutStep, "warn") : EVENTS.agentRolloutStep;
  return {
    kind: kind.kind,
    severity: kind.severity,
    payload: {
      rolloutId: r.id,
      template: r.templateName,
      version: r.version,
      position: step.position,
      node: step.nodeName,
      state: step.state,
      fromVersion: step.fromVersion ?? "",
      error: step.error ?? "",
    },
    opts: { nodeId: step.nodeId },
  };
}

/** `system.agent.rollout_finished`: error when it failed, warn when aborted. */
export function finishedEvent(r: AgentRolloutRow): NewEvent {
  const severity = r.state === "failed" ? "error" : r.state === "aborted" ? "warn" : "info";
  return {
    kind: EVENTS.agentRolloutFinished.kind,
    severity,
    payload: {
      rolloutId: r.id,
      template: r.templateName,
      version: r.version,
      state: r.state,
      failures: r.failures,
      error: r.error ?? "",
    },
  };
}
