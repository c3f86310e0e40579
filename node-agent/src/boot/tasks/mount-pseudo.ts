/** Early mounts: proc, sys, devtmpfs, devpts, /dev/shm, /run, /tmp, cgroup2 (optional). */
import { join } from "node:path";
import { PHASES } from "../../runtime/phases.ts";
import { kernelHandoverSeconds } from "../../sys/kmsg.ts";
import { earlyMounts, mountAll } from "../../sys/mount.ts";
import type { BootTask } from "../sequencer.ts";

export const mountPseudo: BootTask = {
  name: "mountPseudo",
  run(ctx) {
    const outcomes = mountAll(earlyMounts(), ctx.mounter, ctx.root);
    for (const o of outcomes.filter((x) => x.result === "failed"))
      ctx.log.warn(`mount ${o.target}: ${o.error}`);
    // The kernel's own timestamp of "Run /init as init process"; without it, now (an upper bound).
    const handover = kernelHandoverSeconds(join(ctx.root, "dev"));
    ctx.phases.record(PHASES.kernelBooted, {
      ...(handover === undefined ? {} : { uptimeSeconds: handover }),
      payload: {
        source: handover === undefined ? "agent start" : "kmsg",
        mounts: outcomes.filter((x) => x.result === "mounted").map((x) => x.target),
      },
    });
  },
};
