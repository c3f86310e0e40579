/**
 * The per-user download cache every clone on a machine shares: `$POWERNODE_CACHE`, else
 * `$XDG_CACHE_HOME/powernode`, else `~/.cache/powernode` (the same rule as scripts/setup/cache.mjs).
 * Debian packages, the node kernel and the image's bun runtimes are kept here, each checked on use.
 */
import { homedir } from "node:os";
import { join } from "node:path";

/** The cache root. */
export function cacheDir(): string {
  const own = process.env.POWERNODE_CACHE;
  if (own) return own;
  const xdg = process.env.XDG_CACHE_HOME;
  return join(xdg && xdg !== "" ? xdg : join(homedir(), ".cache"), "powernode");
}
