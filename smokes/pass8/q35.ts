/** The QEMU q35 machine pass 8's nodes boot on (no -kernel): accel, CPU, 1 GiB, serial to a file. */
export function q35Argv(accel: "kvm" | "tcg", serialFile: string): string[] {
  return [
    "qemu-system-x86_64",
    "-machine",
    "q35",
    "-accel",
    accel,
    "-cpu",
    accel === "kvm" ? "host" : "max",
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
}
