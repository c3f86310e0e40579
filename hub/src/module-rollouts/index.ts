export { moduleRolloutsFeature } from "./feature.ts";
