/**
 * The Raspberry Pi boot files that come from Debian rather than from the node image: the boards' DTBs,
 * from the generic arm64 kernel package of the node kernel's exact version (the cloud flavour the
 * node runs ships no broadcom DTBs; decision 0031), and the Pi 4 GPU firmware from `raspi-firmware`
 * (bookworm's non-free-firmware component, which set-up adds to the apt sources). Fetched and
 * unpacked through @powernode/debian like every other .deb (checked against the signed index, kept
 * in the per-user cache).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  BOOKWORM_SUITES,
  type DebPackage,
  debFileName,
  fetchDebs,
  loadAptIndex,
  unpackDeb,
} from "@powernode/debian";
import { cacheDir as defaultCacheDir, type Exec } from "@powernode/exec";
import { RPI_DTBS, RPI4_FIRMWARE } from "./rpi-image.ts";

/** The node kernel as the image builder's build-manifest.json records it. */
export interface ManifestKernel {
  package: string;
  version: string;
}

/** `kernel` of `<dir>/build-manifest.json`; throws naming the file. */
export function readManifestKernel(dir: string): ManifestKernel {
  const file = join(dir, "build-manifest.json");
  const m = JSON.parse(readFileSync(file, "utf8")) as { arch?: unknown; kernel?: Partial<ManifestKernel> };
  const k = m.kernel;
  if (m.arch !== "arm64" || typeof k?.package !== "string" || typeof k.version !== "string")
    throw new Error(`${file}: not an arm64 build manifest with kernel.package and kernel.version`);
  return { package: k.package, version: k.version };
}

/** linux-image-<abi>-cloud-arm64-unsigned -> linux-image-<abi>-arm64-unsigned (same source, same version). */
export function dtbPackageName(nodeKernelPackage: string): string {
  const m = nodeKernelPackage.match(/^linux-image-(.+?)-(?:[a-z]+-)?arm64-unsigned$/);
  if (!m?.[1])
    throw new Error(`kernel package ${nodeKernelPackage}: not a Debian arm64 kernel image package`);
  return `linux-image-${m[1]}-arm64-unsigned`;
}

/** Where the DTBs are inside that package: /usr/lib/linux-image-<release>/broadcom/. */
export function dtbDirIn(root: string, dtbPackage: string): string {
  const release = dtbPackage.replace(/^linux-image-/, "").replace(/-unsigned$/, "");
  return join(root, "usr/lib", `linux-image-${release}`, "broadcom");
}

export interface RpiBootFiles {
  dtbs: Record<string, string>;
  firmware: Record<string, string>;
  /** name=version of the two packages, for the record. */
  packages: string[];
}

/** The suites read: bookworm's three (raspi-firmware, the security kernel) and backports (older 6.12 builds). */
const SUITES = [...BOOKWORM_SUITES, "bookworm-backports"] as const;

/** Picks, fetches and unpacks the two packages; returns the DTB and blob paths by file name. */
export async function fetchRpiBootFiles(
  exec: Exec,
  kernel: ManifestKernel,
  opts: { cacheDir?: string; log?: (line: string) => void } = {},
): Promise<RpiBootFiles> {
  const cacheDir = opts.cacheDir ?? defaultCacheDir();
  const index = await loadAptIndex(exec, "arm64", { suites: SUITES, cacheDir });
  const dtbPkg = dtbPackageName(kernel.package);
  const kpkg = index.find(dtbPkg, kernel.version);
  if (!kpkg)
    throw new Error(`${dtbPkg}=${kernel.version} (arm64) is not in the apt sources (apt-get update?)`);
  const fw = index.versions("raspi-firmware").find((v) => BOOKWORM_SUITES.some((s) => s === v.suite));
  if (!fw)
    throw new Error(
      "raspi-firmware is not in the apt sources: bookworm's non-free-firmware component is missing (npm run setup)",
    );
  const wanted: DebPackage[] = [kpkg, fw];
  const debs = await fetchDebs(exec, wanted, { cacheDir, ...(opts.log ? { log: opts.log } : {}) });
  const roots: string[] = [];
  for (const [i, p] of wanted.entries()) {
    const dir = join(cacheDir, "unpacked", debFileName(p).replace(/\.deb$/, ""));
    roots.push(await unpackDeb(exec, debs[i] as string, dir));
  }
  const dtbDir = dtbDirIn(roots[0] as string, dtbPkg);
  const fwDir = join(roots[1] as string, "usr/lib/raspi-firmware");
  return {
    dtbs: Object.fromEntries(Object.values(RPI_DTBS).map((n) => [n, join(dtbDir, n)])),
    firmware: Object.fromEntries(RPI4_FIRMWARE.map((n) => [n, join(fwDir, n)])),
    packages: wanted.map((p) => `${p.name}=${p.version}`),
  };
}
