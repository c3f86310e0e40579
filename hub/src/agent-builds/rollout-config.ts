/**
 * The rolling-update part of the hub's configuration: how long one node of an agent rollout may take
 * to report the new version before its step fails.
 */

export interface AgentRolloutConfig {
  /** POWERNODE_AGENT_ROLLOUT_STEP_SECONDS (default 300): a rollout's default step timeout. */
  stepTimeoutSeconds: number;
}

export const DEFAULT_AGENT_ROLLOUTS: AgentRolloutConfig = { stepTimeoutSeconds: 300 };

/** The longest step timeout a rollout may ask for (a day). */
export const MAX_STEP_TIMEOUT_SECONDS = 86_400;

function whole(
  env: Record<string, string | undefined>,
  name: string,
  fallback: number,
  [min, max]: [number, number],
  problems: string[],
): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    problems.push(`${name}: "${raw}" must be a whole number from ${min} to ${max}`);
    return fallback;
  }
  return Number(raw);
}

/** Reads the rollout variables, adding every problem to `problems`. */
export function parseAgentRolloutConfig(
  env: Record<string, string | undefined>,
  problems: string[],
): AgentRolloutConfig {
  const d = DEFAULT_AGENT_ROLLOUTS;
  return {
    stepTimeoutSeconds: whole(
      env,
      "POWERNODE_AGENT_ROLLOUT_STEP_SECONDS",
      d.stepTimeoutSeconds,
      [10, MAX_STEP_TIMEOUT_SECONDS],
      problems,
    ),
  };
}
