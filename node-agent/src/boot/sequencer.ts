/**
 * The boot sequencer (Talos-style): phases run in order, the tasks of a phase concurrently. A failed
 * task in a fatal phase stops the boot with a {@link BootError} (main.ts hands it to panic.ts); in a
 * non-fatal phase it is logged and the boot goes on. Only boot/ may be fatal.
 */
import type { BootContext } from "./boot-context.ts";

export interface BootTask {
  name: string;
  run(ctx: BootContext): Promise<void> | void;
}

export interface BootPhase {
  name: string;
  fatal: boolean;
  tasks: BootTask[];
}

/** A boot that cannot go on: which phase and task, and why. */
export class BootError extends Error {
  readonly kind = "boot";
  constructor(
    readonly phase: string,
    readonly task: string,
    options: ErrorOptions,
  ) {
    const why = options.cause instanceof Error ? options.cause.message : String(options.cause);
    super(`boot phase ${phase}, task ${task}: ${why}`, options);
    this.name = "BootError";
  }
}

/**
 * Runs the phases in order; logs "boot phase x (n/m)" before each and, at the end, how long each took;
 * throws BootError from a fatal phase.
 */
export async function runSequence(phases: readonly BootPhase[], ctx: BootContext): Promise<void> {
  const took: string[] = [];
  const t0 = performance.now();
  for (const [i, phase] of phases.entries()) {
    ctx.log.info(`boot phase ${phase.name} (${i + 1}/${phases.length})`);
    const start = performance.now();
    const results = await Promise.allSettled(phase.tasks.map(async (t) => t.run(ctx)));
    took.push(`${phase.name} ${((performance.now() - start) / 1000).toFixed(2)}`);
    for (const [j, r] of results.entries()) {
      if (r.status === "fulfilled") continue;
      const task = phase.tasks[j]?.name ?? "?";
      if (phase.fatal) throw new BootError(phase.name, task, { cause: r.reason });
      const why = r.reason instanceof Error ? r.reason.message : String(r.reason);
      ctx.log.warn(`boot phase ${phase.name}, task ${task} failed (going on): ${why}`);
    }
  }
  ctx.log.info(
    `boot sequence done in ${((performance.now() - t0) / 1000).toFixed(2)} s (${took.join(", ")})`,
  );
}
