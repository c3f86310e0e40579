/**
 * Finds who this node is: QEMU fw-cfg first, then the kernel command line, then identity.cfg on the
 * boot partition (a disk image's). When none answers and the
 * cmdline has `powernode.claim_url`, the node is unknown hardware: the claim phase (after the network)
 * gets its identity from the hub (claim-identity.ts).
 */
import { join } from "node:path";
import { parseClaimParams } from "../../claim/claim-params.ts";
import { bootPartitionSource } from "../../identity/boot-partition.ts";
import { powernodeParams } from "../../identity/cmdline.ts";
import { cmdlineSource, discoverIdentity } from "../../identity/discover.ts";
import { readFwCfgIdentity } from "../../sys/fw-cfg.ts";
import { readKernelCmdline } from "../../sys/proc.ts";
import type { BootTask } from "../sequencer.ts";

export const discoverNodeIdentity: BootTask = {
  name: "discoverIdentity",
  run(ctx) {
    const cmdline = () => readKernelCmdline(join(ctx.root, "proc"));
    const r = discoverIdentity([
      { name: "fw-cfg", read: () => readFwCfgIdentity(join(ctx.root, "sys")) },
      cmdlineSource(cmdline),
      bootPartitionSource(ctx.root, ctx.mounter),
    ]);
    if (!r.ok) {
      let claim: ReturnType<typeof parseClaimParams>;
      try {
        claim = parseClaimParams(powernodeParams(cmdline()));
      } catch {
        claim = undefined; // no readable cmdline: the discovery error says so
      }
      if (!claim) throw r.error;
      if (!claim.ok) throw new Error(`claim mode from the kernel cmdline: ${claim.problems.join("; ")}`);
      ctx.state.claim = claim.value;
      ctx.log.info(
        `identity: none found (${r.error.problems.join("; ")}); claim mode with ${claim.value.url}`,
      );
      return;
    }
    ctx.state.identity = r.value;
    ctx.state.identitySource = r.source;
    const ip = r.value.ip ? `static ${r.value.ip.address}/${r.value.ip.prefix}` : "DHCP";
    // Never log the bootstrap token.
    ctx.log.info(
      `identity from ${r.source}: instance ${r.value.instanceUuid}, hub ${r.value.platformUrl}, network ${ip}`,
    );
  },
};
