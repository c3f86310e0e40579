export { moduleRolloutsFeature } from "./feature.ts";
export { planBatches } from "./plan.ts";
