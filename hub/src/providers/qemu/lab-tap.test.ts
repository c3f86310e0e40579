// Real namespaces, bridges and taps (needs root, as the test machine runs), and a real paused QEMU on a
// lab network: arm64 `virt` loads any bytes as a raw kernel, so nothing boots (see vm.test.ts).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { EmitEvent, ProviderInstance } from "../provider.ts";
import { labTapName, macFor } from "./argv.ts";
import { createQemuExec } from "./exec.ts";
import { type LabNetwork, labTapAddArgv, labTapDelArgv, removeLabTap, setUpLabTap } from "./lab-tap.ts";
import { createQemuProvider } from "./provider.ts";

const exec = createQemuExec();
const NS = "pnlab-taptest";
const root = mkdtempSync(join(tmpdir(), "qemu-lab-tap-test-"));
const ip = (...args: string[]) => exec.run("ip", args);
/** Master and state of a link inside the namespace, from `ip -j link show`. */
async function linkIn(name: string): Promise<{ master?: string; operstate?: string; flags?: string[] }> {
  const [link] = JSON.parse((await ip("-n", NS, "-j", "link", "show", "dev", name)).stdout) as [
    { master?: string; operstate?: string; flags?: string[] },
  ];
  return link;
}
const tapExists = async (name: string) =>
  (await exec.run("ip", ["-n", NS, "link", "show", "dev", name], { allowFailure: true })).exitCode === 0;

beforeAll(async () => {
  if (process.getuid?.() !== 0) throw new Error("lab-tap.test.ts needs root: network namespaces and taps");
  if (existsSync(`/run/netns/${NS}`)) await ip("netns", "del", NS);
  await ip("netns", "add", NS);
  await ip("-n", NS, "link", "add", "br0", "type", "bridge");
  await ip("-n", NS, "link", "set", "br0", "up");
});
afterAll(async () => {
  await ip("netns", "del", NS);
  rmSync(root, { recursive: true, force: true });
});

const net: LabNetwork = { kind: "lab", netns: NS, bridge: "br0", tap: "pnt00000001" };

describe("lab tap", () => {
  test("argv: tuntap add and enslave inside the namespace; delete", () => {
    expect(labTapAddArgv(net)).toEqual([
      ["ip", "-n", NS, "tuntap", "add", "name", "pnt00000001", "mode", "tap"],
      ["ip", "-n", NS, "link", "set", "pnt00000001", "master", "br0", "up"],
    ]);
    expect(labTapDelArgv(net)).toEqual(["ip", "-n", NS, "link", "del", "pnt00000001"]);
  });

  test("set up on the bridge; a stale one is replaced; removed; removing again is fine", async () => {
    expect(await setUpLabTap(exec, net)).toEqual({ replaced: false });
    expect((await linkIn(net.tap)).master).toBe("br0");
    expect(await setUpLabTap(exec, net)).toEqual({ replaced: true });
    expect(await removeLabTap(exec, net)).toBe(true);
    expect(await tapExists(net.tap)).toBe(false);
    expect(await removeLabTap(exec, net)).toBe(false);
    expect(await removeLabTap(exec, { ...net, netns: "pnlab-no-such" })).toBe(false);
  });

  test("a missing namespace or bridge is an error naming the network and the tap", async () => {
    await expect(setUpLabTap(exec, { ...net, netns: "pnlab-no-such" })).rejects.toThrow(
      /network lab:pnlab-no-such:br0: creating tap pnt00000001 \(is the lab up\?\)/,
    );
    await expect(setUpLabTap(exec, { ...net, bridge: "br9" })).rejects.toThrow(/lab:pnlab-taptest:br9/);
    expect(await tapExists(net.tap)).toBe(false); // the half-made tap is gone again
  });
});

describe("createQemuProvider on a lab network", () => {
  test("QEMU runs in the namespace on the instance's tap with its MAC; stop removes the tap", async () => {
    const imageDir = join(root, "images");
    mkdirSync(join(imageDir, "arm64", "kernel-initrd"), { recursive: true });
    writeFileSync(join(imageDir, "arm64", "kernel-initrd", "kernel"), new Uint8Array(4096));
    writeFileSync(join(imageDir, "arm64", "kernel-initrd", "initramfs.cpio.zst"), new Uint8Array(512));
    const provider = createQemuProvider({
      stateDir: join(root, "provider"),
      imageDir,
      serialLogDir: join(root, "serial"),
      accel: "tcg",
      extraArgs: ["-S"],
      stopGraceMs: 200,
    });
    const emit: EmitEvent = async () => undefined;
    const inst: ProviderInstance = {
      id: "0b9c6a4e-0000-4000-8000-0000000000aa",
      name: "lab-node",
      arch: "arm64",
      memoryMib: 256,
      vcpus: 1,
      persistent: false,
      network: `lab:${NS}:br0`,
      providerInfo: {},
    };
    const tap = labTapName(inst.id);
    await setUpLabTap(exec, { ...net, tap }); // a stale tap of a crashed run: replaced at start
    const info = await provider.start(
      inst,
      { instanceUuid: inst.id, bootstrapToken: "tok", platformUrl: "https://10.203.1.1:8443", caPem: "PEM" },
      emit,
    );
    const started = { ...inst, providerInfo: info };
    try {
      expect(info.tap).toBe(tap);
      expect(info.netns).toBe(NS);
      const pid = Number(info.pid);
      // `ip netns exec` execs: the recorded pid is QEMU itself, inside the lab's namespace.
      expect(readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0")[0]).toBe("qemu-system-aarch64");
      expect(statSync(`/proc/${pid}/ns/net`).ino).toBe(statSync(`/run/netns/${NS}`).ino);
      const link = await linkIn(tap);
      expect(link.master).toBe("br0");
      expect(link.flags).toContain("UP");
      expect(readFileSync(`/proc/${pid}/cmdline`, "utf8")).toContain(`mac=${macFor(inst.id)}`);
      expect(await provider.status(started)).toBe("running");
    } finally {
      await provider.stop(started, emit);
    }
    expect(await tapExists(tap)).toBe(false);
    await provider.destroy(started, emit);
  });
});
