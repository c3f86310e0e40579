/** The agent runtime: resources, the controller contract and the engine that runs controllers. */
export { type BackoffOptions, createBackoff } from "./backoff.ts";
export { type Clock, createSystemClock, sleep } from "./clock.ts";
export {
  type ConditionValue,
  type Controller,
  type ControllerContext,
  defineReconciler,
  type ReconcileResult,
  type ReconcilerSpec,
} from "./controller.ts";
export {
  ControllerStatus,
  checkControllers,
  type Engine,
  EngineConfigError,
  type EngineOptions,
  type SeedResource,
  startEngine,
} from "./engine.ts";
export {
  type AnyResourceType,
  createResourceStore,
  defineResource,
  type Resource,
  type ResourceChange,
  type ResourceStore,
  type ResourceType,
} from "./resource-store.ts";
