/** Fleet events: emit + live pub/sub, queries, retention. */
export {
  createEventLog,
  type EmitOptions,
  type EventFilter,
  type EventLog,
  type FleetEventRecord,
  matchesFilter,
  type NewEvent,
  type Severity,
} from "./event-log.ts";
export { type EventQuery, listEventPage, listEvents, MAX_PAGE_BYTES } from "./query.ts";
export { CRITICAL_RETENTION_DAYS, pruneEvents, ROUTINE_RETENTION_DAYS } from "./retention.ts";
