/** Starts the zombie reaper: PID 1 must wait for the orphans the kernel reparents to it. */
import type { BootTask } from "../sequencer.ts";

export const startReaper: BootTask = {
  name: "startReaper",
  run(ctx) {
    if (ctx.startReaper) ctx.state.reaper = ctx.startReaper();
  },
};
