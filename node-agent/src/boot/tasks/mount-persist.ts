/**
 * /persist: the ext4 filesystem labelled "persist" if a disk has one (credentials survive reboots),
 * else a tmpfs (credentials are lost at reboot and the node needs a fresh bootstrap token).
 */
import { join } from "node:path";
import { findExtByLabel } from "../../sys/block.ts";
import { MS_NODEV, MS_NOSUID, MS_RELATIME } from "../../sys/libc.ts";
import { mountAll } from "../../sys/mount.ts";
import type { BootTask } from "../sequencer.ts";

export const PERSIST_LABEL = "persist";

export const mountPersist: BootTask = {
  name: "mountPersist",
  run(ctx) {
    const dev = findExtByLabel(PERSIST_LABEL, join(ctx.root, "sys"), join(ctx.root, "dev"));
    const flags = MS_NOSUID | MS_NODEV | MS_RELATIME;
    if (dev) {
      // The device path under a test root is not what mount(2) sees on a node: strip the root.
      const source = dev.startsWith(ctx.root) && ctx.root !== "/" ? dev.slice(ctx.root.length) : dev;
      mountAll([{ source, target: "/persist", fstype: "ext4", flags }], ctx.mounter, ctx.root);
      ctx.state.persistent = true;
      ctx.log.info(
        `state: /persist is ${source} (ext4, label ${PERSIST_LABEL}); credentials survive reboots`,
      );
    } else {
      mountAll(
        [{ source: "tmpfs", target: "/persist", fstype: "tmpfs", flags, data: "mode=0700,size=64m" }],
        ctx.mounter,
        ctx.root,
      );
      ctx.state.persistent = false;
      ctx.log.info(
        `state: /persist is tmpfs (no disk labelled ${PERSIST_LABEL}); credentials are lost at reboot, which then needs a fresh bootstrap token`,
      );
    }
    ctx.state.stateDir = "/persist/powernode";
  },
};
