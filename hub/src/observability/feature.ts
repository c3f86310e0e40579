/** The observability feature: `/healthz` and `/metrics`. */
import type { Feature } from "../feature.ts";
import { healthRoutes } from "./health.ts";
import { metricsRoutes } from "./metrics-route.ts";

export const observabilityFeature: Feature = {
  name: "observability",
  http: [healthRoutes, metricsRoutes],
};
