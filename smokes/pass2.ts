/**
 * Pass 2: container runtimes. A managed Docker host per node (dockerd with TLS on the node's overlay
 * address, its certificate from the hub's Docker CA) and the K3s cluster model.
 *
 *   bun smokes/pass2.ts --tier db
 *
 * db: a real hub; managed Docker hosts through the operator API and the node's half as the agent
 *     calls it (predecessor seed 3, every check).
 *
 * The K3s checks (seeds 4, 5 and the flannel-over-SDWAN checks) and the single tier (dockerd on a
 * QEMU node reached through an operator peer) join this file in their part of issue 12.
 */
import { definePass, runPass } from "./lib/pass.ts";
import { dockerDbChecks } from "./pass2/docker-db-tier.ts";

export const pass2 = definePass({
  id: 2,
  title: "Container runtimes: managed Docker hosts over mutual TLS, the K3s cluster model",
  minTier: "db",
  async run(t) {
    await dockerDbChecks(t);
  },
});

if (import.meta.main) await runPass(pass2);
