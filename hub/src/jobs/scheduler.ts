/**
 * Runs every feature's jobs: each every `everyMs` (and once at start with `atStart`), never two runs of
 * one job at once; a failure is logged and counted (`powernode_job_failures_total`), the next run
 * comes on time.
 */
import type { Deps } from "../deps.ts";
import type { Feature, Job } from "../feature.ts";

/** What the scheduler knows of one job (for checks such as the ACME preflight). */
export interface JobState {
  everyMs: number;
  runs: number;
  lastRunAt: Date | undefined;
  /** The last run's error message; undefined after a success. */
  lastError: string | undefined;
}

const scheduled = new WeakMap<Deps, Map<string, JobState>>();

/** The state of a job scheduled for this hub's deps, or undefined when no scheduler runs it. */
export function scheduledJob(deps: Deps, name: string): JobState | undefined {
  return scheduled.get(deps)?.get(name);
}

export interface Scheduler {
  /** Runs a job now (tests, operators); resolves when it is done. */
  runNow(name: string): Promise<void>;
  stop(): void;
}

/** Starts the jobs; `atStart` jobs run before this resolves. */
export async function startScheduler(deps: Deps, features: readonly Feature[]): Promise<Scheduler> {
  const abort = new AbortController();
  const jobs = new Map<string, Job>();
  for (const f of features) {
    for (const j of f.jobs ?? []) {
      if (jobs.has(j.name)) throw new Error(`feature ${f.name}: job ${j.name} is defined twice`);
      jobs.set(j.name, j);
    }
  }
  deps.metrics.describe("powernode_job_runs_total", "counter", "Scheduled job runs, by job");
  deps.metrics.describe("powernode_job_failures_total", "counter", "Scheduled job failures, by job");
  const running = new Map<string, Promise<void>>();
  const states = new Map<string, JobState>();
  for (const j of jobs.values())
    states.set(j.name, { everyMs: j.everyMs, runs: 0, lastRunAt: undefined, lastError: undefined });
  scheduled.set(deps, states);
  const run = (j: Job): Promise<void> => {
    const busy = running.get(j.name);
    if (busy) return busy;
    const state = states.get(j.name);
    const p = (async () => {
      try {
        deps.metrics.inc("powernode_job_runs_total", { job: j.name });
        if (state) state.lastRunAt = new Date();
        await j.run(deps, abort.signal);
        if (state) state.lastError = undefined;
      } catch (e) {
        deps.metrics.inc("powernode_job_failures_total", { job: j.name });
        deps.log.error(`job ${j.name} failed`, { error: e });
        if (state) state.lastError = (e as Error).message;
      } finally {
        if (state) state.runs++;
        running.delete(j.name);
      }
    })();
    running.set(j.name, p);
    return p;
  };
  const timers: ReturnType<typeof setInterval>[] = [];
  for (const j of jobs.values()) {
    if (j.atStart) await run(j);
    const t = setInterval(() => void run(j), j.everyMs);
    t.unref?.();
    timers.push(t);
  }
  return {
    runNow(name) {
      const j = jobs.get(name);
      if (!j) return Promise.reject(new Error(`no job ${name} (have: ${[...jobs.keys()].join(", ")})`));
      return run(j);
    },
    stop() {
      abort.abort();
      scheduled.delete(deps);
      for (const t of timers) clearInterval(t);
    },
  };
}
