/**
 * What K3s reads from nodes and networks: a node's network profile, a network's pod subnet prefix, and
 * the CNI a node runs (its cluster's, else the default of its profile). A prefix applies to clusters
 * created after it is set.
 */
import { eq } from "drizzle-orm";
import { instances, networks } from "../db/schema/index.ts";
import type { Deps } from "../deps.ts";
import { DomainError } from "../errors.ts";
import { resolveNetwork } from "../network/networks.ts";
import { type Cni, defaultCniFor, type NetworkProfile } from "./cni.ts";
import { parsePodSubnetPrefix } from "./pod-subnet.ts";
import { clusterNodeOf, lockNode } from "./store.ts";

export async function setNetworkProfile(
  deps: Pick<Deps, "db">,
  nodeId: string,
  profile: NetworkProfile | null,
): Promise<NetworkProfile | null> {
  await deps.db.transaction(async (tx) => {
    await lockNode(tx, nodeId);
    await tx
      .update(instances)
      .set({ networkProfile: profile, updatedAt: new Date() })
      .where(eq(instances.id, nodeId));
  });
  return profile;
}

/** Sets (or with "" clears) a network's pod subnet prefix; returns the canonical prefix. */
export async function setPodSubnetPrefix(
  deps: Pick<Deps, "db">,
  networkRef: string,
  prefix: string,
): Promise<string> {
  let canonical = "";
  if (prefix !== "") {
    const p = parsePodSubnetPrefix(prefix);
    if ("error" in p) throw new DomainError("invalid_argument", `prefix: ${p.error}`);
    canonical = p.prefix;
  }
  const network = await resolveNetwork(deps.db, networkRef);
  await deps.db
    .update(networks)
    .set({ podSubnetPrefix: canonical || null, updatedAt: new Date() })
    .where(eq(networks.id, network.id));
  return canonical;
}

/** The CNI a node runs and why: `cluster <name>`, `profile heavyweight`, or `default`. */
export async function nodeCni(deps: Pick<Deps, "db">, nodeId: string): Promise<{ cni: Cni; source: string }> {
  const own = await clusterNodeOf(deps.db, nodeId);
  if (own) return { cni: own.cluster.cni, source: `cluster ${own.cluster.name}` };
  const [node] = await deps.db.select().from(instances).where(eq(instances.id, nodeId));
  if (!node || node.state === "deleted") throw new DomainError("not_found", `node_id: no node ${nodeId}`);
  const cni = defaultCniFor(node.networkProfile);
  return { cni, source: node.networkProfile === "heavyweight" ? "profile heavyweight" : "default" };
}
