/**
 * Fetching and unpacking Debian packages: one `apt-get download` for every package missing from the
 * cache (apt verifies the checksums from the signed index), then `dpkg-deb -x` into the staging root.
 * Maintainer scripts are never run.
 */
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { Exec } from "@powernode/exec";
import type { DebPackage } from "./apt-index.ts";

/** The file name `apt-get download` gives a package (the epoch colon is escaped as %3a). */
export function debFileName(p: Pick<DebPackage, "name" | "version" | "architecture">): string {
  return `${p.name}_${p.version.replace(":", "%3a")}_${p.architecture}.deb`;
}

/** Makes sure every package is in `cacheDir` (one apt-get call for the missing ones); returns the paths. */
export async function fetchDebs(
  exec: Exec,
  cacheDir: string,
  pkgs: readonly DebPackage[],
): Promise<string[]> {
  mkdirSync(cacheDir, { recursive: true });
  const missing = pkgs.filter((p) => !existsSync(join(cacheDir, debFileName(p))));
  if (missing.length > 0) {
    // Download into a private directory, then move: a cut-off download never looks cached.
    const tmp = join(cacheDir, `.download-${process.pid}-${Date.now()}`);
    mkdirSync(tmp, { recursive: true });
    try {
      await exec.run(
        "apt-get",
        ["download", "-q", ...missing.map((p) => `${p.name}:${p.architecture}=${p.version}`)],
        { cwd: tmp, timeoutMs: 600_000 },
      );
      for (const p of missing) {
        const f = debFileName(p);
        if (!existsSync(join(tmp, f))) {
          throw new Error(`apt-get download: expected ${f}, got ${readdirSync(tmp).join(", ") || "nothing"}`);
        }
        renameSync(join(tmp, f), join(cacheDir, f));
      }
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }
  return pkgs.map((p) => join(cacheDir, debFileName(p)));
}

/** Unpacks one .deb's data into `root` (dpkg-deb -x keeps modes, owners and mtimes from the archive). */
export async function unpackDeb(exec: Exec, deb: string, root: string): Promise<void> {
  await exec.run("dpkg-deb", ["-x", deb, root], { timeoutMs: 300_000 });
}
