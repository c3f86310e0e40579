/** Image builder: Debian kernel + modules + agent + minimal userland -> initramfs.cpio.zst. */
export { type AgentBuildOptions, compileAgentBuild } from "./agent-build.ts";
export { type BuildImageOptions, type BuildImageResult, buildImage, imageDir } from "./build-image.ts";
export { compileHubBuild } from "./hub-build.ts";
export type { CpioEntry } from "./lib/cpio.ts";
export { writeCpio } from "./lib/cpio.ts";
export { KMOD_ROOTS, LOAD_ORDER_FILE } from "./lib/kmods.ts";
export type { BuildManifest } from "./lib/manifest.ts";
export { AGENT_PATH, BUSYBOX_APPLETS } from "./lib/rootfs.ts";
export { ARCHES, type Arch, KERNEL, kernelRelease } from "./versions.ts";
