// The per-user download cache shared by every clone on a machine: $XDG_CACHE_HOME/powernode, default
// ~/.cache/powernode. Debian packages, the node kernel and the bun runtimes of the image live here, so a
// fresh clone (CI's case) downloads nothing again. Mirrored in lib/exec/src/cache.ts for the TypeScript side.
import { homedir } from "node:os";
import { join } from "node:path";

/** The cache root; POWERNODE_CACHE overrides it (the fresh-machine check points it into its chroot). */
export function cacheDir() {
  if (process.env.POWERNODE_CACHE) return process.env.POWERNODE_CACHE;
  const xdg = process.env.XDG_CACHE_HOME;
  return join(xdg && xdg !== "" ? xdg : join(homedir(), ".cache"), "powernode");
}
