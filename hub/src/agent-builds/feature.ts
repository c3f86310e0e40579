/**
 * The agent-builds feature: agent self-update. Operators publish agent builds to the hub registry and
 * register them (AgentService), assign one to a node (the desired state's `agent` section); heartbeats
 * report the agent's pid and any build it refused or rolled back (docs/runbooks/agent-update.md).
 */
import { AgentService } from "@powernode/proto";
import { bindService, type Feature } from "../feature.ts";
import { createAgentService } from "./agent-service.ts";
import { agentSection, observeAgentReport } from "./node-agents.ts";

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
      },
      create: createAgentService,
    }),
  ],
  sections: [agentSection],
  heartbeat: observeAgentReport,
};
