/** `/metrics`: Prometheus text (RPC counts and latency per method, nodes by state, events by kind). */
import { Elysia } from "elysia";
import type { Deps } from "../deps.ts";
import { countNodesByState } from "../fleet/nodes.ts";

/** The metrics plugin; registers the scrape-time node gauge. */
export function metricsRoutes(deps: Deps) {
  deps.metrics.collect("powernode_nodes", "Instances by lifecycle state", async () => {
    const counts = await countNodesByState(deps.db);
    return [...counts].map(([state, n]) => [{ state }, n]);
  });
  deps.metrics.collect(
    "powernode_event_subscribers",
    "Live event subscribers (WatchEvents + SSE)",
    async () => [[{}, deps.events.subscriberCount()]],
  );
  return new Elysia({ name: "metrics" }).get(
    "/metrics",
    async () =>
      new Response(await deps.metrics.render(), { headers: { "content-type": "text/plain; version=0.0.4" } }),
  );
}
