/**
 * Chooses KVM or TCG. KVM only when the guest arch is the host arch, /dev/kvm opens read-write,
 * and a probe QEMU with `-accel kvm -cpu host` can reset a CPU (some hosts expose /dev/kvm but
 * fail there, e.g. "failed to set MSR"). POWERNODE_FORCE_TCG=1 skips the probe.
 */
import { closeSync, openSync } from "node:fs";
import { arch as hostArch } from "node:os";
import { type Accel, QEMU_BINARY, type VmArch } from "./argv.ts";
import type { QemuExec } from "./exec.ts";

/** Debian arch of this host, if it is one QEMU guests can run under KVM. */
export function hostVmArch(): VmArch | undefined {
  const a = hostArch();
  return a === "x64" ? "amd64" : a === "arm64" ? "arm64" : undefined;
}

function kvmOpens(): boolean {
  try {
    closeSync(openSync("/dev/kvm", "r+"));
    return true;
  } catch {
    return false; // absent or no permission: TCG
  }
}

const cache = new Map<VmArch, Promise<{ accel: Accel; reason: string }>>();

/** Starts a paused VM with KVM and asks QMP for its status; true when QEMU exits cleanly. */
async function probeKvm(exec: QemuExec, arch: VmArch): Promise<string | undefined> {
  const qmp = ['{"execute":"qmp_capabilities"}', '{"execute":"query-status"}', '{"execute":"quit"}', ""].join(
    "\n",
  );
  const machine = arch === "amd64" ? "q35" : "virt";
  try {
    await exec.run(
      QEMU_BINARY[arch],
      [
        "-accel",
        "kvm",
        "-machine",
        machine,
        "-cpu",
        "host",
        "-m",
        "64",
        "-display",
        "none",
        "-nodefaults",
        "-S",
        "-qmp",
        "stdio",
      ],
      { input: qmp, timeoutMs: 15_000 },
    );
    return undefined;
  } catch (e) {
    return (e as Error).message.split("\n").slice(-3).join(" ").slice(-300);
  }
}

/**
 * KVM or TCG for a guest arch, with the reason (logged and put in events). Cached per process.
 * @example const { accel } = await detectAccel(exec, "amd64");
 */
export function detectAccel(
  exec: QemuExec,
  arch: VmArch,
  env: Record<string, string | undefined> = process.env,
): Promise<{ accel: Accel; reason: string }> {
  if (env.POWERNODE_FORCE_TCG === "1")
    return Promise.resolve({ accel: "tcg", reason: "POWERNODE_FORCE_TCG=1" });
  const hit = cache.get(arch);
  if (hit) return hit;
  const p = (async (): Promise<{ accel: Accel; reason: string }> => {
    if (hostVmArch() !== arch) return { accel: "tcg", reason: `guest ${arch} on a ${hostArch()} host` };
    if (!kvmOpens()) return { accel: "tcg", reason: "/dev/kvm missing or not writable" };
    const failure = await probeKvm(exec, arch);
    return failure
      ? { accel: "tcg", reason: `KVM probe failed: ${failure}` }
      : { accel: "kvm", reason: "KVM probe ok" };
  })();
  cache.set(arch, p);
  return p;
}
