/**
 * With `powernode.selftest=reaper` on the kernel cmdline: orphan a grandchild (`sh -c 'sleep 0.2 &'`),
 * then show on the console that the reaper collected it as PID 1. Off by default.
 */
import { join } from "node:path";
import { powernodeParams } from "../../identity/cmdline.ts";
import { listZombies, readKernelCmdline, readProcStat } from "../../sys/proc.ts";
import type { BootTask } from "../sequencer.ts";

export const reaperSelfTest: BootTask = {
  name: "reaperSelfTest",
  async run(ctx) {
    const proc = join(ctx.root, "proc");
    if (powernodeParams(readKernelCmdline(proc)).selftest !== "reaper") return;
    const r = await ctx.exec.run("sh", ["-c", "sleep 0.2 & echo $!"]);
    const pid = Number(r.stdout.trim());
    let sawZombie = false;
    const end = Date.now() + 10_000;
    // The orphan sleeps 0.2 s, exits (a zombie of PID 1 until reaped), then its /proc entry goes.
    for (let st = readProcStat(pid, proc); st !== undefined; st = readProcStat(pid, proc)) {
      if (st.state === "Z") sawZombie = true;
      if (Date.now() > end) throw new Error(`self-test: orphan ${pid} still present after 10 s`);
      await ctx.clock.sleep(20);
    }
    const reaped = ctx.state.reaper?.reaped() ?? 0;
    ctx.log.info(
      `self-test: orphan ${pid} reaped (seen as zombie: ${sawZombie}, reaped so far: ${reaped}, zombies now: ${listZombies(proc).length})`,
    );
  },
};
