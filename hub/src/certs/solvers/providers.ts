/** Builds the solver of a provider's stored form; throws naming the setting that is wrong. */
import { createChalltestsrvSolver } from "./challtestsrv.ts";
import { createCloudflareSolver } from "./cloudflare.ts";
import { createDigitalOceanSolver } from "./digitalocean.ts";
import { createHetznerSolver } from "./hetzner.ts";
import { createRfc2136Solver } from "./rfc2136.ts";
import type { DnsProviderConfig, DnsProviderType, DnsSolver } from "./solver.ts";

const FACTORIES: Record<DnsProviderType, (cfg: DnsProviderConfig) => DnsSolver> = {
  rfc2136: createRfc2136Solver,
  cloudflare: createCloudflareSolver,
  hetzner: createHetznerSolver,
  digitalocean: createDigitalOceanSolver,
  challtestsrv: createChalltestsrvSolver,
};

export function createSolver(cfg: DnsProviderConfig): DnsSolver {
  return FACTORIES[cfg.type](cfg);
}
