/** The events feature: the SSE stream of fleet events and the retention job (hourly, and at start). */
import type { Feature } from "../feature.ts";
import { pruneEvents } from "./retention.ts";
import { eventStreamRoutes } from "./sse.ts";

export const eventsFeature: Feature = {
  name: "events",
  http: [eventStreamRoutes],
  jobs: [
    {
      name: "event-retention",
      everyMs: 3_600_000,
      atStart: true,
      async run(deps) {
        const pruned = await pruneEvents(deps.db, deps.now());
        if (pruned.routine + pruned.critical > 0) deps.log.info("pruned fleet events", pruned);
      },
    },
  ],
};
