/**
 * An instance's tap on a lab network (`lab:<netns>:<bridge>`): made inside the namespace and enslaved to
 * its bridge before QEMU starts there, removed when the VM stops or is destroyed. The argv builders are
 * pure; {@link setUpLabTap} and {@link removeLabTap} run them through the provider's exec.
 */
import type { VmNetwork } from "./argv.ts";
import type { QemuExec } from "./exec.ts";

/** The lab variant of {@link VmNetwork}. */
export type LabNetwork = Extract<VmNetwork, { kind: "lab" }>;

const TIMEOUT_MS = 15_000;

/** `ip` command lines that create the tap in the namespace and put it on the bridge, up. */
export function labTapAddArgv(net: LabNetwork): string[][] {
  return [
    ["ip", "-n", net.netns, "tuntap", "add", "name", net.tap, "mode", "tap"],
    ["ip", "-n", net.netns, "link", "set", net.tap, "master", net.bridge, "up"],
  ];
}

/** `ip` command line that deletes the tap. */
export function labTapDelArgv(net: LabNetwork): string[] {
  return ["ip", "-n", net.netns, "link", "del", net.tap];
}

/** `ip` says this when the tap (or its whole namespace) is already gone. */
const GONE = /Cannot find device|Cannot open network namespace|does not exist/;

/**
 * Deletes the tap; true when one was there. A tap or namespace already gone is not an error (a lab
 * removed before its nodes takes their taps with it).
 */
export async function removeLabTap(exec: QemuExec, net: LabNetwork): Promise<boolean> {
  const [cmd, ...args] = labTapDelArgv(net) as [string, ...string[]];
  const r = await exec.run(cmd, args, { timeoutMs: TIMEOUT_MS, allowFailure: true });
  if (r.exitCode === 0) return true;
  if (GONE.test(r.stderr)) return false;
  throw new Error(
    `network lab:${net.netns}:${net.bridge}: removing tap ${net.tap}: exit ${r.exitCode}: ${r.stderr.trim()}`,
  );
}

/**
 * Creates the tap fresh (a stale one left by a crashed QEMU is deleted first). Errors name the network
 * and the tap: a missing namespace or bridge means the lab is not up.
 */
export async function setUpLabTap(exec: QemuExec, net: LabNetwork): Promise<{ replaced: boolean }> {
  const replaced = await removeLabTap(exec, net);
  for (const [cmd, ...args] of labTapAddArgv(net) as [string, ...string[]][]) {
    try {
      await exec.run(cmd, args, { timeoutMs: TIMEOUT_MS });
    } catch (err) {
      await removeLabTap(exec, net).catch(() => false);
      throw new Error(
        `network lab:${net.netns}:${net.bridge}: creating tap ${net.tap} (is the lab up?): ${(err as Error).message}`,
        { cause: err },
      );
    }
  }
  return { replaced };
}
