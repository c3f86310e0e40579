/**
 * The rolling-update part of the hub's configuration: how long one node of an agent rollout may take
 * to report the new version before its step fails, and one batch of a module rollout
 * (hub/src/module-rollouts) to report the module version mounted and verified.
 */
import { wholeFromEnv } from "../env-number.ts";

export interface AgentRolloutConfig {
  /** POWERNODE_AGENT_ROLLOUT_STEP_SECONDS (default 300): a rollout's default step timeout. */
  stepTimeoutSeconds: number;
  /** POWERNODE_MODULE_ROLLOUT_BATCH_SECONDS (default 300): a module rollout's default batch timeout. */
  moduleBatchTimeoutSeconds: number;
}

export const DEFAULT_AGENT_ROLLOUTS: AgentRolloutConfig = {
  stepTimeoutSeconds: 300,
  moduleBatchTimeoutSeconds: 300,
};

/** The longest step timeout a rollout may ask for (a day). */
export const MAX_STEP_TIMEOUT_SECONDS = 86_400;

/** Reads the rollout variables, adding every problem to `problems`. */
export function parseAgentRolloutConfig(
  env: Record<string, string | undefined>,
  problems: string[],
): AgentRolloutConfig {
  const d = DEFAULT_AGENT_ROLLOUTS;
  return {
    stepTimeoutSeconds: wholeFromEnv(
      env,
      "POWERNODE_AGENT_ROLLOUT_STEP_SECONDS",
      d.stepTimeoutSeconds,
      [10, MAX_STEP_TIMEOUT_SECONDS],
      problems,
    ),
    moduleBatchTimeoutSeconds: wholeFromEnv(
      env,
      "POWERNODE_MODULE_ROLLOUT_BATCH_SECONDS",
      d.moduleBatchTimeoutSeconds,
      [5, MAX_STEP_TIMEOUT_SECONDS],
      problems,
    ),
  };
}
