/**
 * The QEMU machines pass 8's nodes boot on without -kernel (their firmware and disk do it): q35 for
 * amd64, virt for arm64; 1 GiB, serial to a file. Plus the UEFI firmware and the disk-and-NIC lines
 * the disk-image nodes share.
 */
import { TCG_ACCEL, TCG_CPU } from "../../hub/src/providers/qemu/argv.ts";

/** The q35 machine (amd64). */
export function q35Argv(accel: "kvm" | "tcg", serialFile: string): string[] {
  return [
    "qemu-system-x86_64",
    "-machine",
    "q35",
    "-accel",
    accel,
    "-cpu",
    accel === "kvm" ? "host" : "max",
    ...commonArgv(serialFile),
  ];
}

/** The virt machine (arm64) under TCG, two vCPUs. */
export function virtArgv(serialFile: string): string[] {
  return [
    "qemu-system-aarch64",
    "-machine",
    "virt",
    "-accel",
    TCG_ACCEL.arm64,
    "-cpu",
    TCG_CPU.arm64,
    "-smp",
    "2",
    ...commonArgv(serialFile),
  ];
}

const commonArgv = (serialFile: string) => [
  "-m",
  "1024",
  "-nodefaults",
  "-no-user-config",
  "-display",
  "none",
  "-no-reboot",
  "-serial",
  `file:${serialFile}`,
];

/** UEFI firmware as two pflash units: the code read-only, a private copy of the variables. */
export const pflashArgv = (code: string, vars: string) => [
  "-drive",
  `if=pflash,format=raw,unit=0,readonly=on,file=${code}`,
  "-drive",
  `if=pflash,format=raw,unit=1,file=${vars}`,
];

/** The raw image as a virtio disk, and a virtio NIC on user networking without a boot ROM. */
export const diskAndNicArgv = (image: string, mac: string) => [
  "-drive",
  `file=${image},format=raw,if=virtio`,
  "-netdev",
  "user,id=n1",
  "-device",
  `virtio-net-pci,netdev=n1,romfile=,mac=${mac}`,
];
