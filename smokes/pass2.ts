/**
 * Pass 2: container runtimes. A managed Docker host per node (dockerd with TLS on the node's overlay
 * address, its certificate from the hub's Docker CA) and the K3s cluster model and controller.
 *
 *   bun smokes/pass2.ts --tier db|single [--arch amd64|arm64] [--allow-missing]
 *
 * db:     a real hub; managed Docker hosts through the operator API and the node's half as the agent
 *         calls it (predecessor seed 3), the K3s model (seeds 4, 5) and flannel over SDWAN (seed 20).
 * single: one QEMU node on a lab network runs dockerd from the docker-engine module; an operator peer
 *         reaches it over the mesh with docker --tlsverify; docker run of an image from the hub's
 *         registry; decommission; the K3s controller's config on the node. Without POWERNODE_K3S_BINARY
 *         the live K3s checks say `missing: k3s binary` and fail unless --allow-missing.
 */
import { tierAtLeast } from "./lib/args.ts";
import { definePass, runPass } from "./lib/pass.ts";
import { dockerDbChecks } from "./pass2/docker-db-tier.ts";
import { runtimesSingleTier } from "./pass2/docker-single-tier.ts";
import { k3sDbChecks } from "./pass2/k3s-db-tier.ts";

export const pass2 = definePass({
  id: 2,
  title: "Container runtimes: managed Docker hosts over mutual TLS, the K3s cluster model",
  minTier: "db",
  async run(t) {
    if (tierAtLeast(t.args.tier, "single")) return runtimesSingleTier(t);
    await dockerDbChecks(t);
    await k3sDbChecks(t);
  },
});

if (import.meta.main) await runPass(pass2);
