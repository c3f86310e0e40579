/** Early mounts: proc, sys, devtmpfs, devpts, /dev/shm, /run, /tmp, cgroup2 (optional). */
import { join } from "node:path";
import { PHASES } from "../../session/phases.ts";
import { earlyMounts, mountAll } from "../../sys/mount.ts";
import { readProcStat } from "../../sys/proc.ts";
import type { BootTask } from "../sequencer.ts";

export const mountPseudo: BootTask = {
  name: "mountPseudo",
  run(ctx) {
    const outcomes = mountAll(earlyMounts(), ctx.mounter, ctx.root);
    for (const o of outcomes.filter((x) => x.result === "failed"))
      ctx.log.warn(`mount ${o.target}: ${o.error}`);
    // The kernel exec'd us at our process start time: that is when it finished booting.
    const self = readProcStat("self", join(ctx.root, "proc"));
    ctx.phases.record(PHASES.kernelBooted, {
      uptimeSeconds: self?.startSeconds ?? 0,
      payload: { mounts: outcomes.filter((x) => x.result === "mounted").map((x) => x.target) },
    });
  },
};
