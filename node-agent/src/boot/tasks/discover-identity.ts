/** Finds who this node is: QEMU fw-cfg first, then the kernel command line. */
import { join } from "node:path";
import { cmdlineSource, discoverIdentity } from "../../identity/discover.ts";
import { readFwCfgIdentity } from "../../sys/fw-cfg.ts";
import { readKernelCmdline } from "../../sys/proc.ts";
import type { BootTask } from "../sequencer.ts";

export const discoverNodeIdentity: BootTask = {
  name: "discoverIdentity",
  run(ctx) {
    const r = discoverIdentity([
      { name: "fw-cfg", read: () => readFwCfgIdentity(join(ctx.root, "sys")) },
      cmdlineSource(() => readKernelCmdline(join(ctx.root, "proc"))),
    ]);
    if (!r.ok) throw r.error;
    ctx.state.identity = r.value;
    ctx.state.identitySource = r.source;
    const ip = r.value.ip ? `static ${r.value.ip.address}/${r.value.ip.prefix}` : "DHCP";
    // Never log the bootstrap token.
    ctx.log.info(
      `identity from ${r.source}: instance ${r.value.instanceUuid}, hub ${r.value.platformUrl}, network ${ip}`,
    );
  },
};
