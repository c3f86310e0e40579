/**
 * What a federation peer may read of this hub, and nothing else: the fleet summary (counts: nodes in
 * total, per instance state, heartbeating, and the number of modules) and the module catalog (module
 * name, version, arch and fs-verity digest per version). Never node ids, names, addresses, certificates,
 * events, desired states, tokens or keys: those stay with this hub's operators. A peer reaches only the
 * `peer-hub` methods of FederationPeerService; every other method refuses its certificate.
 */

import type { PeerCatalogEntry, PeerFleetSummary } from "@powernode/proto";
import { asc, count, eq, gt, ne, sql } from "drizzle-orm";
import { instances, modules, moduleVersions } from "../db/schema/index.ts";
import type { Deps } from "../deps.ts";

/** The name this hub gives itself to peers: the host of its TLS listener URL (POWERNODE_NODE_URL). */
export function hubNameOf(config: Pick<Deps["config"], "nodeUrl">): string {
  try {
    return new URL(config.nodeUrl).host;
  } catch {
    return "powernode-hub";
  }
}

/** Most catalog entries a peer is sent in one answer. */
export const PEER_CATALOG_LIMIT = 5000;

/** The fleet summary a peer may read. */
export async function fleetSummary(
  deps: Pick<Deps, "db" | "config">,
  now = new Date(),
): Promise<Omit<PeerFleetSummary, "$typeName">> {
  const byState = await deps.db
    .select({ state: instances.state, n: count() })
    .from(instances)
    .where(ne(instances.state, "deleted"))
    .groupBy(instances.state);
  const since = new Date(now.getTime() - 3 * deps.config.heartbeatSeconds * 1000);
  const [beating] = await deps.db
    .select({ n: count() })
    .from(instances)
    .where(sql`${instances.state} <> 'deleted' and ${gt(instances.lastHeartbeatAt, since)}`);
  const [mods] = await deps.db.select({ n: count() }).from(modules);
  const nodesByState: Record<string, number> = {};
  for (const r of byState) nodesByState[r.state] = Number(r.n);
  return {
    hubName: hubNameOf(deps.config),
    nodesTotal: Object.values(nodesByState).reduce((a, b) => a + b, 0),
    nodesByState,
    nodesHeartbeating: Number(beating?.n ?? 0),
    modulesTotal: Number(mods?.n ?? 0),
  };
}

/** The catalog a peer may read (at most {@link PEER_CATALOG_LIMIT} versions, by module and version). */
export async function catalogEntries(deps: Pick<Deps, "db">): Promise<Omit<PeerCatalogEntry, "$typeName">[]> {
  const rows = await deps.db
    .select({
      module: modules.name,
      version: moduleVersions.version,
      arch: moduleVersions.arch,
      fsverityDigest: moduleVersions.fsverityDigest,
    })
    .from(moduleVersions)
    .innerJoin(modules, eq(modules.id, moduleVersions.moduleId))
    .orderBy(asc(modules.name), asc(moduleVersions.version), asc(moduleVersions.arch))
    .limit(PEER_CATALOG_LIMIT);
  return rows;
}
