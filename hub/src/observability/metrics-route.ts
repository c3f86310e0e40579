/**
 * `/metrics`: Prometheus text (RPC counts and latency per method, nodes by state, events by kind). On
 * the operator listener it needs the operator token (method names, error codes and node counts are not
 * for anyone who can reach the port); a scraper without one uses the metrics listener
 * (POWERNODE_METRICS_LISTEN, metrics-listener.ts), which serves only this, without a token.
 */
import { Elysia } from "elysia";
import type { Deps } from "../deps.ts";
import { countNodesByState } from "../fleet/nodes.ts";
import { bearerToken } from "../rpc/interceptors.ts";

/** Registers the scrape-time gauges (once per hub, by {@link metricsRoutes}). */
function registerCollectors(deps: Deps): void {
  deps.metrics.collect("powernode_nodes", "Instances by lifecycle state", async () => {
    const counts = await countNodesByState(deps.db);
    return [...counts].map(([state, n]) => [{ state }, n]);
  });
  deps.metrics.collect(
    "powernode_event_subscribers",
    "Live event subscribers (WatchEvents + SSE)",
    async () => [[{}, deps.events.subscriberCount()]],
  );
}

/** The scrape answer. */
export async function metricsResponse(deps: Pick<Deps, "metrics">): Promise<Response> {
  return new Response(await deps.metrics.render(), {
    headers: { "content-type": "text/plain; version=0.0.4" },
  });
}

/** The metrics plugin of the operator listener: 401 without a valid operator token. */
export function metricsRoutes(deps: Deps) {
  registerCollectors(deps);
  return new Elysia({ name: "metrics" }).get("/metrics", async ({ request }) => {
    const token = bearerToken(request.headers.get("authorization"));
    if (!token || !(await deps.adminAuth.verify(token))) {
      const where = deps.config.security.metricsListen
        ? ` (or scrape the metrics listener ${deps.config.security.metricsListen.host}:${deps.config.security.metricsListen.port})`
        : " (or set POWERNODE_METRICS_LISTEN=host:port for a listener without one)";
      return new Response(`authorization: an operator bearer token is required for /metrics${where}\n`, {
        status: 401,
        headers: { "content-type": "text/plain", "www-authenticate": "Bearer" },
      });
    }
    return metricsResponse(deps);
  });
}
