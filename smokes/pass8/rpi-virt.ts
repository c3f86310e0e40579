/**
 * Pass 8, single tier: the Raspberry Pi 4 image's boot partition boots an arm64 node in QEMU `virt`.
 * QEMU cannot run the Pi's VideoCore firmware (docs/hardware.md), so this does its part by hand: it
 * reads `config.txt` for the kernel and initramfs it names, takes those files and `cmdline.txt` off the
 * image's FAT partition (mtools, no mount), and boots them with the whole image attached as the node's
 * disk. The board's serial console in cmdline.txt is swapped for virt's, and virt's own device tree
 * stands in for the board's DTB (which describes hardware virt does not have). Nothing identifies the
 * node but the `identity.cfg` on that partition: the agent finds it there and enrolls as the instance
 * made for it.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createExec } from "@powernode/exec";
import { RPI_BOOT_OFFSET } from "../../hub/src/images/rpi-image.ts";
import { buildQemuArgv } from "../../hub/src/providers/qemu/argv.ts";
import { buildImage } from "../../initramfs/index.ts";
import type { SmokeHub } from "../lib/hub.ts";
import type { PassContext } from "../lib/pass.ts";
import { arm64IdentityImage, enrolledFromIdentity } from "./identity-image.ts";

/** The `kernel=` and `initramfs` files config.txt names (the firmware's own reading of it). */
export function configTxtFiles(text: string): { kernel: string; initramfs: string } {
  let kernel = "";
  let initramfs = "";
  for (const line of text.split("\n").map((l) => l.trim())) {
    if (line.startsWith("kernel=")) kernel = line.slice(7);
    else if (line.startsWith("initramfs ")) initramfs = line.split(/\s+/)[1] ?? "";
  }
  if (!kernel || !initramfs) throw new Error(`config.txt names no kernel= or initramfs: ${text}`);
  return { kernel, initramfs };
}

export async function rpiVirtNode(t: PassContext, s: SmokeHub): Promise<void> {
  await t.step("build (or reuse) the arm64 node image", () =>
    buildImage({ arch: "arm64", log: (l) => t.info(`build: ${l}`) }),
  );
  const { instance, image } = await arm64IdentityImage(
    t,
    s,
    "rpi4",
    "the Pi image booted in QEMU virt (pass 8)",
  );
  const boot = await t.step(
    "read config.txt, cmdline.txt and the files they name off the boot partition",
    async () => {
      const exec = createExec({ defaultTimeoutMs: 60_000 });
      const env = { ...process.env, MTOOLS_SKIP_CHECK: "1" };
      const part = `${image}@@${RPI_BOOT_OFFSET}`;
      const copy = async (name: string) => {
        const out = join(t.outDir, `rpi-boot-${name}`);
        await exec.run("mcopy", ["-n", "-i", part, `::/${name}`, out], { env });
        return out;
      };
      const files = configTxtFiles(readFileSync(await copy("config.txt"), "utf8"));
      const cmdline = readFileSync(await copy("cmdline.txt"), "utf8").trim();
      return { kernel: await copy(files.kernel), initrd: await copy(files.initramfs), cmdline, files };
    },
  );
  const serial = join(t.outDir, "rpi-virt.serial.log");
  t.keepOnFailure("rpi-virt node serial log", serial);
  // The board's console (ttyS0 is the Pi 4's mini UART) gives way to virt's PL011, which the builder adds.
  const kernelArgs = boot.cmdline.split(/\s+/).filter((a) => a !== "" && !a.startsWith("console="));
  const [bin, ...argv] = buildQemuArgv({
    arch: "arm64",
    accel: "tcg",
    kernel: boot.kernel,
    initrd: boot.initrd,
    memoryMib: 1024,
    vcpus: 2,
    kernelArgs,
    serialLog: serial,
    qmpSocket: join(t.outDir, "rpi-virt.qmp"),
    network: { kind: "user" },
    mac: "52:54:00:08:0e:f4",
    disks: [image],
  });
  const started = Date.now();
  const vm = Bun.spawn([bin ?? "qemu-system-aarch64", ...argv], { stdout: "ignore", stderr: "ignore" });
  t.defer(() => {
    vm.kill();
  });
  await t.check(
    `the Pi image's ${boot.files.kernel} and ${boot.files.initramfs} boot in QEMU virt (arm64, TCG); the agent reads identity.cfg from the boot partition and enrolls as that instance`,
    async () => {
      await enrolledFromIdentity(s, instance, vm, serial, 300_000);
      return `instance ${instance} RUNNING ${((Date.now() - started) / 1000).toFixed(1)} s after QEMU started (cmdline from cmdline.txt: ${kernelArgs.join(" ") || "-"})`;
    },
  );
  vm.kill();
  await vm.exited;
}
