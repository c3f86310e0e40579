/**
 * The third identity source: `identity.cfg` on the first FAT partition (a disk image's EFI system
 * partition or the Pi's boot partition, `pnctl image build --identity-file`). The partition is mounted
 * read-only at /boot, readable by root only (the file holds a bootstrap token), and stays mounted.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { findFatPartition } from "../sys/block.ts";
import { MS_NODEV, MS_NOEXEC, MS_NOSUID, MS_RDONLY } from "../sys/libc.ts";
import { type Mounter, mountAll } from "../sys/mount.ts";
import type { IdentitySourceReader } from "./discover.ts";
import { parseIdentityFile } from "./identity-file.ts";

export const BOOT_MOUNT = "/boot";
export const IDENTITY_FILE = "identity.cfg";

/** A source reading `<boot partition>/identity.cfg`; undefined when there is no FAT partition or no file. */
export function bootPartitionSource(root: string, mounter: Mounter): IdentitySourceReader {
  return {
    name: `${IDENTITY_FILE} on the boot partition`,
    read() {
      const dev = findFatPartition(join(root, "sys"), join(root, "dev"));
      if (!dev) return undefined;
      // The device path under a test root is not what mount(2) sees on a node: strip the root.
      const source = dev.startsWith(root) && root !== "/" ? dev.slice(root.length) : dev;
      mountAll(
        [
          {
            source,
            target: BOOT_MOUNT,
            fstype: "vfat",
            flags: MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
            data: "umask=077",
          },
        ],
        mounter,
        root,
      );
      const file = join(root, BOOT_MOUNT, IDENTITY_FILE);
      if (!existsSync(file)) return undefined;
      return parseIdentityFile(readFileSync(file, "utf8"));
    },
  };
}
