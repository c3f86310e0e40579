/**
 * Cluster members' replication lag in `/metrics`, read at scrape time from this hub's own PostgreSQL
 * (the parent): one series per physical slot, `powernode_replication_lag_bytes` (WAL not yet replayed
 * by the member), `powernode_replication_lag_seconds` (PostgreSQL's replay lag) and
 * `powernode_replication_synchronous` (1 when the parent waits for that member on commit). Nothing on
 * PGlite, which has no replication.
 */
import { Elysia } from "elysia";
import type { Deps } from "../deps.ts";
import { memberSlots } from "./replication.ts";

/** An HTTP plugin with no routes: it registers the scrape-time gauges once per hub. */
export function replicationMetrics(deps: Deps) {
  deps.metrics.collect(
    "powernode_replication_lag_bytes",
    "Cluster member WAL not yet replayed, per slot",
    async () => (await memberSlots(deps)).map((r) => [{ slot: r.slot }, r.bytes]),
  );
  deps.metrics.collect(
    "powernode_replication_lag_seconds",
    "Cluster member replay lag in seconds, per slot",
    async () => (await memberSlots(deps)).map((r) => [{ slot: r.slot }, r.seconds]),
  );
  deps.metrics.collect(
    "powernode_replication_synchronous",
    "1 when this hub's PostgreSQL waits for the member of that slot on commit",
    async () => (await memberSlots(deps)).map((r) => [{ slot: r.slot }, r.synchronous ? 1 : 0]),
  );
  return new Elysia({ name: "federation-replication-metrics" });
}
