/**
 * The netboot feature: iPXE from the hub. A machine whose firmware or NIC ROM chains `/boot/ipxe`
 * (a DHCP boot file, QEMU user networking's `bootfile=`) boots the hub's kernel and initramfs into
 * claim mode (hub/src/claims).
 */
import type { Feature } from "../feature.ts";
import { netbootRoutes } from "./netboot-routes.ts";

export const netbootFeature: Feature = {
  name: "netboot",
  http: [(deps) => netbootRoutes(deps)],
  // iPXE without the hub's CA fetches over plain HTTP: the boot listener when the operator one is HTTPS.
  bootHttp: [(deps) => netbootRoutes(deps)],
};
