/**
 * Pass 3: the WireGuard mesh, brought up by agents from the hub's network plan.
 *
 *   bun smokes/pass3.ts --tier db|site [--arch amd64|arm64]
 *
 * db:   a real hub and three in-process agents running the real controllers (credentials, desired
 *       state, heartbeat, mesh peers, mesh) over a WireGuard fake (the host kernel has no WireGuard):
 *       every node configures the two others only after verifying their credentials; a fourth node
 *       joining is one delta per member; revocation drops a node, reissue brings it back; an agent
 *       restarted on its state dir keeps its address and key; no table holds a private key. Then the
 *       SDWAN compile checks (pass3/sdwan-db.ts): host bridges, network profiles, IPFIX telemetry.
 * site: three QEMU nodes on a lab network: the agents create wg-sdwan-<handle>, every pair pings over
 *       it both ways while a capture on the lab bridge sees only WireGuard UDP between underlay
 *       addresses; revocation and reissue on live nodes; a rebooted node rejoins by itself.
 */
import { tierAtLeast } from "./lib/args.ts";
import { definePass, runPass } from "./lib/pass.ts";
import { meshDbTier } from "./pass3/db-tier.ts";
import { meshSiteTier } from "./pass3/site-tier.ts";

export const pass3 = definePass({
  id: 3,
  title: "WireGuard mesh: networks, credentials, peers as deltas, agents configure wg-sdwan-*",
  minTier: "db",
  async run(t) {
    // single adds nothing to the mesh (it needs several nodes): it runs the db part.
    return tierAtLeast(t.args.tier, "site") ? meshSiteTier(t) : meshDbTier(t);
  },
});

if (import.meta.main) await runPass(pass3);
