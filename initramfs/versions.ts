/**
 * Every pinned input of the node image, in one place. Change a version here and the next
 * `bun initramfs/build.ts` rebuilds (the input hash covers this file).
 */

/** The image architectures, named as Debian names them. */
export type Arch = "amd64" | "arm64";
export const ARCHES: readonly Arch[] = ["amd64", "arm64"];

/**
 * Debian's 6.12 cloud kernel for bookworm (published through bookworm-security; bookworm-backports
 * carries older 6.12 builds). The cloud flavour has everything the node needs (docs/initramfs.md).
 */
export const KERNEL = {
  /** ABI string, as in `linux-image-<abi>-<flavour>-<arch>-unsigned` and `/lib/modules/<abi>-<flavour>-<arch>`. */
  abi: "6.12.117+deb12",
  flavour: "cloud",
  /** Debian package version of that ABI. */
  debVersion: "6.12.117-1~deb12u1",
} as const;

/** Debian package name of the kernel image for an arch. */
export function kernelPackage(arch: Arch): string {
  return `linux-image-${KERNEL.abi}-${KERNEL.flavour}-${arch}-unsigned`;
}

/** `uname -r` of that kernel, i.e. the /lib/modules directory name. */
export function kernelRelease(arch: Arch): string {
  return `${KERNEL.abi}-${KERNEL.flavour}-${arch}`;
}

/**
 * Userland packages, taken at the newest bookworm version (bookworm, -updates or -security) of the
 * target arch; the resolved versions are recorded in the manifest and the input hash. Of
 * wireguard-tools only `wg` goes in (decision 0011; it needs nothing but libc.so.6).
 */
export const USERLAND_PACKAGES = ["libc6", "libgcc-s1", "busybox-static", "wireguard-tools"] as const;

/** npm package of the Bun runtime that `bun build --compile` embeds, per arch (version from .bun-version). */
export const BUN_RUNTIME_PACKAGE: Record<Arch, string> = {
  amd64: "@oven/bun-linux-x64",
  arm64: "@oven/bun-linux-aarch64",
};

/** `bun build --target` per arch. */
export const BUN_TARGET: Record<Arch, string> = {
  amd64: "bun-linux-x64",
  arm64: "bun-linux-arm64",
};

/** GNU triplet (Debian multiarch directory) and dynamic loader per arch. */
export const LIBC_LAYOUT: Record<Arch, { triplet: string; loader: string }> = {
  amd64: { triplet: "x86_64-linux-gnu", loader: "lib64/ld-linux-x86-64.so.2" },
  arm64: { triplet: "aarch64-linux-gnu", loader: "lib/ld-linux-aarch64.so.1" },
};

/** SOURCE_DATE_EPOCH of every file in the image (the agent's clock does not depend on it). */
export const SOURCE_DATE_EPOCH = 0;

/** Default zstd level; 19 keeps the window at 8 MiB, which the kernel's unpacker accepts. */
export const ZSTD_LEVEL = 19;

/**
 * zstd argv for a level. Multi-threaded mode (any -T, as opposed to --single-thread) cuts the input
 * into jobs whose size does not depend on the worker count, so -T0 gives the same bytes on every
 * machine (checked: -T1 and -T2 give the same sha256) while using all cores.
 */
export function zstdArgs(level: number): string[] {
  return [`-${level}`, "-T0", "--no-progress", "-q"];
}
