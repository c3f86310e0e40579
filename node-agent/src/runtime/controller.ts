/**
 * The controller contract (the Talos/COSI shape, in TypeScript): a controller names the resource types
 * it reads (its inputs: it is woken when one of them changes) and the ones it writes (its outputs: each
 * type has exactly one writer, checked when the engine starts), and runs until its signal aborts. The
 * engine restarts a controller that throws, with backoff, and keeps its Condition.
 */
import type { Log } from "../log.ts";
import type { Clock } from "./clock.ts";
import type { AnyResourceType, Resource, ResourceType } from "./resource-store.ts";

/** A controller's health as the hub sees it in ReportStatus (`powernode.v1.Condition`). */
export interface ConditionValue {
  /** The controller's name. */
  type: string;
  ok: boolean;
  reason: string;
  message: string;
  since: Date;
}

/** What a controller may do, bounded by its declared inputs and outputs. */
export interface ControllerContext {
  readonly name: string;
  readonly signal: AbortSignal;
  readonly log: Log;
  readonly clock: Clock;
  /** Reads a resource of an input or output type (anything else throws: declare it). */
  get<S>(type: ResourceType<S>, id: string): Resource<S> | undefined;
  list<S>(type: ResourceType<S>): Resource<S>[];
  /** Writes a resource of an output type; an unchanged spec (deep-equal) is not a change. */
  set<S>(type: ResourceType<S>, id: string, spec: S): void;
  remove(type: ResourceType<unknown>, id: string): void;
  /**
   * Resolves when an input changed since the last call (at once if one already did), after
   * `timeoutMs`, when `signal` aborts, or when the controller stops. Level-triggered: callers re-read
   * everything after it. One caller at a time.
   */
  changed(opts?: { timeoutMs?: number; signal?: AbortSignal }): Promise<void>;
  /** Marks the controller's inputs changed (an outside source woke it: a phase was recorded, say). */
  wake(): void;
  /** Sets the controller's Condition (reported to the hub); the engine sets it too when run throws. */
  condition(ok: boolean, reason: string, message?: string): void;
}

/** One controller. */
export interface Controller {
  readonly name: string;
  readonly inputs: readonly AnyResourceType[];
  readonly outputs: readonly AnyResourceType[];
  /** Runs until `ctx.signal` aborts; a throw is logged and the controller restarted with backoff. */
  run(ctx: ControllerContext): Promise<void>;
}

/** A reconcile function run level-triggered: once at start, then after every input change or interval. */
export interface ReconcilerSpec {
  name: string;
  inputs: readonly AnyResourceType[];
  outputs: readonly AnyResourceType[];
  /** Also reconcile this often with no input change (retries of pending work). */
  intervalMs?: number;
  /** One pass; its result becomes the Condition (ok "Reconciled" when it returns nothing). */
  reconcile(ctx: ControllerContext): Promise<ReconcileResult | undefined>;
}

/** The Condition a reconcile pass ends in. */
export interface ReconcileResult {
  ok: boolean;
  reason: string;
  message?: string;
}

/** A {@link Controller} from a reconcile function. */
export function defineReconciler(spec: ReconcilerSpec): Controller {
  return {
    name: spec.name,
    inputs: spec.inputs,
    outputs: spec.outputs,
    async run(ctx) {
      while (!ctx.signal.aborted) {
        const r = await spec.reconcile(ctx);
        ctx.condition(r?.ok ?? true, r?.reason ?? "Reconciled", r?.message ?? "");
        await ctx.changed(spec.intervalMs === undefined ? {} : { timeoutMs: spec.intervalMs });
      }
    },
  };
}

/** A controller that owns something running (a process): see {@link definePollingController}. */
export interface PollingSpec {
  name: string;
  inputs: readonly AnyResourceType[];
  outputs: readonly AnyResourceType[];
  /** Also reconcile this often with no input change. */
  pollMs: number;
  /** One pass; it sets its own Condition. */
  reconcile(ctx: ControllerContext): Promise<void>;
  /** Undoes what the passes started, when the controller ends. */
  stop(ctx: ControllerContext): Promise<void>;
}

/**
 * A {@link Controller} that reconciles on every input change and every `pollMs`. A pass that throws
 * becomes the Condition (`Error`) and is retried at the next pass instead of restarting the
 * controller, so what it runs (a daemon) keeps running through a hub outage; `stop` runs at the end.
 */
export function definePollingController(spec: PollingSpec): Controller {
  return {
    name: spec.name,
    inputs: spec.inputs,
    outputs: spec.outputs,
    async run(ctx) {
      try {
        while (!ctx.signal.aborted) {
          try {
            await spec.reconcile(ctx);
          } catch (err) {
            const message = err instanceof Error ? err.message : String(err);
            ctx.condition(false, "Error", message);
            ctx.log.warn(`${spec.name}: ${message}`);
          }
          await ctx.changed({ timeoutMs: spec.pollMs });
        }
      } finally {
        await spec.stop(ctx);
      }
    },
  };
}
