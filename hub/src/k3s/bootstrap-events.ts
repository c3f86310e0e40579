/** A cluster's bootstrap log: the last {@link MAX_BOOTSTRAP_EVENTS} steps, oldest first. Pure. */
import type { BootstrapEventDocument } from "../db/schema/index.ts";

export const MAX_BOOTSTRAP_EVENTS = 50;

/** `events` with `next` appended, the oldest dropped beyond the cap. */
export function appendBootstrapEvent(
  events: readonly BootstrapEventDocument[],
  next: { at: Date; phase: string; status: string; message: string },
): BootstrapEventDocument[] {
  const e = { ts: next.at.toISOString(), phase: next.phase, status: next.status, message: next.message };
  return [...events, e].slice(-MAX_BOOTSTRAP_EVENTS);
}
