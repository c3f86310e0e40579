/**
 * Nodes whose instance is deleted leave their clusters. DeleteInstance keeps the instance row (state
 * deleted), so the foreign key's cascade never removes its cluster node: this does, recounting the
 * cluster's node_count from its rows and logging a `remove` bootstrap event naming the instance; a
 * cluster left without an active server is disconnected. DeleteInstance runs it before it answers
 * (the feature's instanceDeleted hook); a sweep at start catches what a failed hook left.
 * A removed server's overlay member stays among the API VIP's holders until the network forgets it.
 */
import { and, count, eq, inArray } from "drizzle-orm";
import { instances, k3sClusterNodes, k3sClusters } from "../db/schema/index.ts";
import type { Deps } from "../deps.ts";
import type { Job } from "../feature.ts";
import { appendBootstrapEvent } from "./bootstrap-events.ts";
import { hasActiveServer } from "./cluster-nodes.ts";
import { transact } from "./store.ts";

type ForgetDeps = Pick<Deps, "db" | "events" | "now">;

/**
 * Removes the cluster nodes of deleted instances (of `instanceId` only, when given); returns how many.
 */
export async function forgetDeletedNodes(deps: ForgetDeps, instanceId?: string): Promise<number> {
  return transact(deps, async (tx) => {
    const gone = await tx
      .select({ node: k3sClusterNodes, instanceName: instances.name })
      .from(k3sClusterNodes)
      .innerJoin(instances, eq(instances.id, k3sClusterNodes.instanceId))
      .where(
        and(
          eq(instances.state, "deleted"),
          ...(instanceId ? [eq(k3sClusterNodes.instanceId, instanceId)] : []),
        ),
      )
      .for("update");
    if (gone.length === 0) return 0;
    await tx.delete(k3sClusterNodes).where(
      inArray(
        k3sClusterNodes.id,
        gone.map((g) => g.node.id),
      ),
    );
    const now = deps.now();
    for (const clusterId of new Set(gone.map((g) => g.node.clusterId))) {
      const [cluster] = await tx
        .select()
        .from(k3sClusters)
        .where(eq(k3sClusters.id, clusterId))
        .for("update");
      if (!cluster) continue;
      const [counted] = await tx
        .select({ n: count() })
        .from(k3sClusterNodes)
        .where(eq(k3sClusterNodes.clusterId, clusterId));
      let events = cluster.bootstrapEvents;
      for (const g of gone.filter((x) => x.node.clusterId === clusterId))
        events = appendBootstrapEvent(events, {
          at: now,
          phase: "remove",
          status: "removed",
          message: `${g.node.role} ${g.instanceName} (instance ${g.node.instanceId}) removed: its instance was deleted`,
        });
      const disconnect = cluster.status === "active" && !(await hasActiveServer(tx, clusterId));
      await tx
        .update(k3sClusters)
        .set({
          nodeCount: counted?.n ?? 0,
          bootstrapEvents: events,
          ...(disconnect ? { status: "disconnected" as const } : {}),
          updatedAt: now,
        })
        .where(eq(k3sClusters.id, clusterId));
    }
    return gone.length;
  });
}

/** The sweep: instances deleted while no hub listened (or before this hub removed nodes). */
export const forgetDeletedNodesJob: Job = {
  name: "k3s-forget-deleted-nodes",
  everyMs: 600_000,
  atStart: true,
  run: async (deps) => {
    const n = await forgetDeletedNodes(deps);
    if (n > 0) deps.log.info("removed cluster nodes of deleted instances", { count: n });
  },
};
