/** Loads the kernel modules the image lists in /lib/modules/<release>/powernode.load, in that order. */
import { kmodDir, loadKmods } from "../../sys/kmod.ts";
import type { BootTask } from "../sequencer.ts";

export const loadKmodsTask: BootTask = {
  name: "loadKmods",
  run(ctx) {
    const dir = kmodDir(ctx.root);
    const outcomes = loadKmods(dir, ctx.kmodLoader);
    const count = (r: string) => outcomes.filter((o) => o.result === r).length;
    const failed = outcomes.filter((o) => o.result === "failed");
    ctx.log.info(
      `kernel modules: ${count("loaded")} loaded, ${count("already")} already present, ${failed.length} failed (${dir})`,
    );
    for (const f of failed) ctx.log.warn(`kernel module ${f.module}: ${f.error}`);
  },
};
