/**
 * Pass 8, single tier: the arm64-efi disk image (systemd-boot and one loader entry on a FAT ESP) boots
 * under AAVMF (Debian's qemu-efi-aarch64: UEFI for QEMU `virt`) from the image alone, no -kernel, and
 * enrolls from the identity.cfg on its ESP. What this covers of arm64 UEFI servers: the firmware
 * interface and the boot loader, not the vendors' quirks (docs/hardware.md).
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { SmokeHub } from "../lib/hub.ts";
import type { PassContext } from "../lib/pass.ts";
import { arm64IdentityImage, enrolledFromIdentity } from "./identity-image.ts";
import { diskAndNicArgv, pflashArgv, virtArgv } from "./q35.ts";

export const AAVMF_CODE = "/usr/share/AAVMF/AAVMF_CODE.fd";
export const AAVMF_VARS = "/usr/share/AAVMF/AAVMF_VARS.fd";

/** QEMU `virt` under AAVMF booting `image` (no -kernel), TCG, serial to a file. */
export const aavmfArgv = (image: string, vars: string, serial: string, mac: string): string[] => [
  ...virtArgv(serial),
  ...pflashArgv(AAVMF_CODE, vars),
  ...diskAndNicArgv(image, mac),
  "-device",
  "virtio-rng-pci",
];

export async function arm64EfiNode(t: PassContext, s: SmokeHub): Promise<void> {
  const { instance, image } = await arm64IdentityImage(
    t,
    s,
    "arm64-efi",
    "the arm64-efi image under AAVMF (pass 8)",
  );
  const vars = join(t.outDir, "arm64-efi.AAVMF_VARS.fd");
  writeFileSync(vars, readFileSync(AAVMF_VARS));
  const serial = join(t.outDir, "arm64-efi.serial.log");
  t.keepOnFailure("arm64-efi node serial log", serial);
  const started = Date.now();
  const [bin = "qemu-system-aarch64", ...argv] = aavmfArgv(image, vars, serial, "52:54:00:08:0e:f5");
  const vm = Bun.spawn([bin, ...argv], { stdout: "ignore", stderr: "ignore" });
  t.defer(() => {
    vm.kill();
  });
  await t.check(
    "the arm64-efi image boots under AAVMF from the image alone (systemd-boot, no -kernel) and enrolls from the identity.cfg on its ESP",
    async () => {
      await enrolledFromIdentity(s, instance, vm, serial, 420_000);
      return `instance ${instance} RUNNING ${((Date.now() - started) / 1000).toFixed(1)} s after QEMU started`;
    },
  );
  vm.kill();
  await vm.exited;
}
