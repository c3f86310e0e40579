/** Records `system.agent.started` once the agent can log, reap and read /proc. */
import { PHASES } from "../../runtime/phases.ts";
import { AGENT_VERSION } from "../../version.ts";
import type { BootTask } from "../sequencer.ts";

export const announceAgentStarted: BootTask = {
  name: "announceAgentStarted",
  run(ctx) {
    ctx.phases.record(PHASES.agentStarted, {
      payload: { version: AGENT_VERSION, arch: process.arch, pid: process.pid },
    });
  },
};
