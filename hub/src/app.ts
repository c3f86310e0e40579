/** The Elysia app: every HTTP plugin and the ConnectRPC routes, composed in one place. */
import { Elysia } from "elysia";
import type { Deps } from "./deps.ts";
import { eventStreamRoutes } from "./http/events-stream.ts";
import { healthRoutes } from "./http/health.ts";
import { metricsRoutes } from "./http/metrics.ts";
import { connectRoutes } from "./rpc/elysia-connect.ts";

/** Builds the app (not listening). */
export function createApp(deps: Deps, shutdown?: AbortSignal) {
  return new Elysia()
    .use(healthRoutes(deps))
    .use(metricsRoutes(deps))
    .use(eventStreamRoutes(deps))
    .use(connectRoutes(deps, shutdown));
}
