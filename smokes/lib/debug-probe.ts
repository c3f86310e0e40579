/**
 * The test-only debug probes of a node (`powernode.debug=1`) from a smoke: set its debug spec and wait
 * for the events the node records for that spec's desired-state version.
 */
import { setDebugSpec } from "@powernode/hub";
import type { FleetEvent } from "@powernode/proto";
import { nodeEvents } from "./events.ts";
import type { SmokeHub } from "./hub.ts";
import { waitFor } from "./wait.ts";

/** A node as the probes need it: its id, and a name and serial log for the messages. */
export interface ProbedNode {
  instanceId: string;
  name?: string;
  serialLog: string;
}

/** The node's events of `kind`, for debug-spec version `version` (or any, when undefined). */
export async function eventsOf(
  hub: SmokeHub,
  n: Pick<ProbedNode, "instanceId">,
  kind: string,
  version?: number,
): Promise<FleetEvent[]> {
  return (await nodeEvents(hub.fleet, n.instanceId)).filter(
    (e) => e.kind === kind && (version === undefined || e.payload?.version === String(version)),
  );
}

/** Sets `n`'s debug spec and waits for `count` events of `kind` for it; returns their payloads. */
export async function probe(
  hub: SmokeHub,
  n: ProbedNode,
  spec: Parameters<typeof setDebugSpec>[2],
  kind: string,
  count: number,
  timeoutMs: number,
): Promise<Record<string, unknown>[]> {
  const version = await setDebugSpec(hub.hub.deps, n.instanceId, spec);
  const events = await waitFor(
    `${n.name ?? n.instanceId}: ${count} ${kind} for debug version ${version} (serial log ${n.serialLog})`,
    async () => {
      const e = await eventsOf(hub, n, kind, version);
      return e.length >= count ? e : undefined;
    },
    { timeoutMs, intervalMs: 1000 },
  );
  return events.map((e) => (e.payload ?? {}) as Record<string, unknown>);
}
