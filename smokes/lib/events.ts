/** Reading a node's fleet events back for ordering and timing checks. */
import type { Client } from "@connectrpc/connect";
import type { FleetEvent, FleetService } from "@powernode/proto";

/** All events of a node, oldest first. */
export async function nodeEvents(fleet: Client<typeof FleetService>, nodeId: string): Promise<FleetEvent[]> {
  const { events } = await fleet.listEvents({ nodeId, limit: 1000 });
  return events;
}

/**
 * Events the agent reported itself through ReportStatus: they carry the agent's wall clock (`agentAt`) and
 * CLOCK_BOOTTIME seconds. Hub-side events of the same kind (e.g. its own heartbeat.received) are left out.
 */
export function agentPhases(events: readonly FleetEvent[]): Array<{ kind: string; uptime: number }> {
  return events
    .filter((e) => e.payload?.agentAt !== undefined && typeof e.payload?.uptimeSeconds === "number")
    .map((e) => ({ kind: e.kind, uptime: e.payload?.uptimeSeconds as number }))
    .sort((a, b) => a.uptime - b.uptime);
}

/**
 * Throws unless `want` appears in `kinds` in this order (other kinds may sit between them).
 * Returns a short description for the check line.
 */
export function assertInOrder(kinds: readonly string[], want: readonly string[]): string {
  let at = 0;
  for (const k of kinds) if (k === want[at]) at++;
  if (at < want.length) {
    throw new Error(
      `expected ${want.join(" -> ")}; missing or out of order from "${want[at]}"; saw ${kinds.join(", ")}`,
    );
  }
  return want.join(" -> ");
}
