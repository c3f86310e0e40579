/**
 * Which Debian packages go into the image, picked from the apt index of the target arch: the userland at
 * its newest bookworm version (bookworm, -updates or -security; never backports or trixie), the kernel at
 * exactly the version pinned in versions.ts (it may come from any suite read, backports included).
 */
import { type AptIndex, BOOKWORM_SUITES, type DebPackage } from "@powernode/debian";

/** The suites the image builder reads: bookworm's three plus backports (older 6.12 kernel builds). */
export const IMAGE_SUITES = [...BOOKWORM_SUITES, "bookworm-backports"] as const;

/** The newest version of each package among the bookworm suites; throws naming a package bookworm lacks. */
export function pickUserland(index: AptIndex, names: readonly string[]): DebPackage[] {
  return names.map((name) => {
    const p = index.versions(name).find((v) => BOOKWORM_SUITES.some((s) => s === v.suite));
    if (!p) {
      throw new Error(
        `${name}:${index.arch}: no bookworm version in the apt sources (${BOOKWORM_SUITES.join(", ")})`,
      );
    }
    return p;
  });
}

/**
 * The pinned kernel package's index entry. When the index lacks it the error names the newest 6.12 package
 * of the same flavour, so versions.ts can be updated.
 */
export function pickKernel(index: AptIndex, pkg: string, version: string): DebPackage {
  const hit = index.find(pkg, version);
  if (hit) return hit;
  const flavour = pkg.replace(/^linux-image-[^-]+-/, "").replace(/-unsigned$/, "");
  const re = new RegExp(`^linux-image-6\\.12\\.[0-9]+\\+deb12-${flavour.replace(/[.+]/g, "\\$&")}-unsigned$`);
  const names = [...index.packages.keys()]
    .filter((n) => re.test(n))
    .sort((a, b) => a.localeCompare(b, "en", { numeric: true }));
  const newest = names.at(-1);
  throw new Error(
    `kernel package ${pkg}=${version} (${index.arch}) is no longer in the apt sources; ` +
      (newest
        ? `newest available: ${newest}; update KERNEL in initramfs/versions.ts`
        : "no 6.12 package found"),
  );
}
