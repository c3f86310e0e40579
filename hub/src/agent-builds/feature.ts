/**
 * The agent-builds feature: agent self-update. Operators publish agent builds to the hub registry and
 * register them (AgentService), assign one to a node (the desired state's `agent` section); heartbeats
 * report the agent's pid and any build it refused or rolled back (docs/runbooks/agent-update.md).
 * Rollouts update a template's nodes one at a time (decision 0030): a heartbeat whose report changed
 * advances them at once, the `agent-rollouts` job every few seconds (timeouts, offline nodes, resume).
 */
import { AgentService } from "@powernode/proto";
import { bindService, type Feature } from "../feature.ts";
import { createAgentService } from "./agent-service.ts";
import { agentSection, observeAgentReport } from "./node-agents.ts";
import { advanceRunningRollouts, nudgeRollouts } from "./rollout-advance.ts";

export const agentBuildsFeature: Feature = {
  name: "agent-builds",
  services: [
    bindService({
      service: AgentService,
      principals: {
        registerAgentBuild: "operator",
        listAgentBuilds: "operator",
        setNodeAgent: "operator",
        getNodeAgent: "operator",
        startAgentRollout: "operator",
        getAgentRollout: "operator",
        listAgentRollouts: "operator",
        abortAgentRollout: "operator",
      },
      create: createAgentService,
    }),
  ],
  sections: [agentSection],
  async heartbeat(deps, nodeId, req) {
    if (await observeAgentReport(deps, nodeId, req)) await nudgeRollouts(deps, nodeId);
  },
  jobs: [{ name: "agent-rollouts", everyMs: 5_000, atStart: true, run: advanceRunningRollouts }],
};
