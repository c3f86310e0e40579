/** The boot of a node, as a list of phases (reads like a table of contents). */
import type { BootPhase } from "./sequencer.ts";
import { announceAgentStarted } from "./tasks/agent-started.ts";
import { claimNodeIdentity } from "./tasks/claim-identity.ts";
import { discoverNodeIdentity } from "./tasks/discover-identity.ts";
import { loadKmodsTask } from "./tasks/load-kmods.ts";
import { mountPersist } from "./tasks/mount-persist.ts";
import { mountPseudo } from "./tasks/mount-pseudo.ts";
import { bringUpNetwork } from "./tasks/network-up.ts";
import { reaperSelfTest } from "./tasks/reaper-self-test.ts";
import { startReaper } from "./tasks/start-reaper.ts";

/** Boot up to the point where the hub session takes over (see boot/run-boot.ts). */
export function bootSequence(): BootPhase[] {
  return [
    { name: "early", fatal: true, tasks: [mountPseudo] },
    { name: "init", fatal: true, tasks: [startReaper, announceAgentStarted] },
    // A module that fails to load is logged; what it was needed for fails later with a clearer error.
    { name: "kmods", fatal: false, tasks: [loadKmodsTask, reaperSelfTest] },
    { name: "identity", fatal: true, tasks: [discoverNodeIdentity] },
    { name: "storage", fatal: true, tasks: [mountPersist] },
    { name: "network", fatal: true, tasks: [bringUpNetwork] },
    // Only in claim mode (no identity found): waits for an operator, then has one.
    { name: "claim", fatal: true, tasks: [claimNodeIdentity] },
  ];
}
