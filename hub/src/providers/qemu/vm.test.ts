// Real QEMU, started paused (-S) so nothing boots: arm64 `virt` loads any bytes as a raw kernel image,
// which keeps this fast and independent of the image builder. Real boots are the smoke's job.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { EmitEvent, ProviderInstance } from "../provider.ts";
import { createQemuProvider } from "./provider.ts";
import { connectQmp } from "./qmp.ts";
import { chooseInitrd, isVmAlive, launchVm, resolveImage } from "./vm.ts";

const root = mkdtempSync(join(tmpdir(), "qemu-vm-test-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const imageDir = join(root, "images");
mkdirSync(join(imageDir, "arm64", "kernel-initrd"), { recursive: true });
writeFileSync(join(imageDir, "arm64", "kernel-initrd", "kernel"), new Uint8Array(4096));
writeFileSync(join(imageDir, "arm64", "kernel-initrd", "initramfs.cpio.zst"), new Uint8Array(512));

describe("launchVm (paused arm64 QEMU)", () => {
  test("QMP answers, fw-cfg files are 0600 and absent from argv, stop and status work", async () => {
    const stateDir = join(root, "vm1");
    const vm = await launchVm({
      arch: "arm64",
      name: "vm1",
      stateDir,
      imageDir,
      accel: "tcg",
      memoryMib: 256,
      vcpus: 1,
      fwCfg: { instance_uuid: "u-1", bootstrap_token: "s3cret-token" },
      extraArgs: ["-S"],
    });
    try {
      expect(vm.accel).toBe("tcg");
      expect(isVmAlive(vm)).toBe(true);
      expect(statSync(stateDir).mode & 0o777).toBe(0o700);
      const tokenFile = join(stateDir, "fw_cfg", "bootstrap_token");
      expect(statSync(tokenFile).mode & 0o777).toBe(0o600);
      expect(readFileSync(tokenFile, "utf8")).toBe("s3cret-token");
      expect(vm.argv.join(" ")).not.toContain("s3cret-token");
      expect(vm.argv).toContain(`name=opt/com.powernode/bootstrap_token,file=${tokenFile}`);
      expect(readFileSync(`/proc/${vm.pid}/cmdline`, "utf8")).not.toContain("s3cret-token");

      const qmp = await connectQmp(vm.qmpSocket);
      expect(await qmp.queryStatus()).toEqual({ running: false, status: "prelaunch" });
      await expect(qmp.execute("no-such-command")).rejects.toThrow(/CommandNotFound/);
      qmp.close();
      expect(await vm.status()).toBe("running");
      await expect(vm.waitForSerial(/never printed/, 300)).rejects.toThrow(/waiting for \/never printed\//);
    } finally {
      // A paused guest ignores the power button: the stop escalates to QMP quit.
      expect(await vm.stop(200)).toBe("quit");
    }
    expect(isVmAlive(vm)).toBe(false);
    expect(await vm.status()).toBe("stopped");
    expect(await vm.stop()).toBe("not-running");
  });

  test("under TCG the uncompressed cpio is booted when present; KVM or an explicit zst gets the .zst", () => {
    const img = { initrd: "/i/initramfs.cpio.zst", initrdRaw: "/i/initramfs.cpio" };
    expect(chooseInitrd(img, "tcg")).toBe("/i/initramfs.cpio");
    expect(chooseInitrd(img, "kvm")).toBe("/i/initramfs.cpio.zst");
    expect(chooseInitrd(img, "tcg", "zst")).toBe("/i/initramfs.cpio.zst");
    expect(chooseInitrd({ initrd: "/i/initramfs.cpio.zst" }, "tcg")).toBe("/i/initramfs.cpio.zst");
    expect(() => chooseInitrd({ initrd: "/i/x.zst" }, "kvm", "raw")).toThrow(
      /no uncompressed initramfs.cpio/,
    );
  });

  test("a missing image names the build command", () => {
    expect(() => resolveImage(join(root, "nowhere"), "amd64")).toThrow(
      /run bun initramfs\/build\.ts --arch amd64/,
    );
  });
});

describe("createQemuProvider", () => {
  test("start emits domain_started and records providerInfo; stop and destroy are idempotent", async () => {
    const events: { kind: string; payload: Record<string, unknown> }[] = [];
    const emit: EmitEvent = async (e, payload) => {
      events.push({ kind: e.kind, payload });
    };
    const provider = createQemuProvider({
      stateDir: join(root, "provider"),
      imageDir,
      serialLogDir: join(root, "serial"),
      accel: "tcg",
      extraArgs: ["-S"],
      stopGraceMs: 200,
    });
    const inst: ProviderInstance = {
      id: "0b9c6a4e-0000-4000-8000-000000000001",
      name: "node-1",
      arch: "arm64",
      memoryMib: 256,
      vcpus: 1,
      persistent: false,
      network: "user",
      providerInfo: {},
    };
    expect(await provider.status(inst)).toBe("stopped");
    const info = await provider.start(
      inst,
      { instanceUuid: inst.id, bootstrapToken: "tok", platformUrl: "https://10.0.2.2:8443", caPem: "PEM" },
      emit,
    );
    const started = { ...inst, providerInfo: info };
    try {
      expect(info.serialLog).toBe(join(root, "serial", "node-1.log"));
      expect(info.accel).toBe("tcg");
      expect(events[0]).toEqual({
        kind: "system.qemu.domain_started",
        payload: {
          accel: "tcg",
          accelReason: "requested",
          arch: "arm64",
          pid: Number(info.pid),
          serialLog: info.serialLog,
          initrd: join(imageDir, "arm64", "kernel-initrd", "initramfs.cpio.zst"),
        },
      });
      expect(await provider.status(started)).toBe("running");
      expect(
        await provider.start(
          started,
          { instanceUuid: "", bootstrapToken: "", platformUrl: "", caPem: "" },
          emit,
        ),
      ).toEqual(info);
    } finally {
      await provider.stop(started, emit);
    }
    expect(events.at(-1)).toEqual({
      kind: "system.qemu.domain_stopped",
      payload: { pid: Number(info.pid), how: "quit" },
    });
    expect(await provider.status(started)).toBe("stopped");
    await provider.stop(started, emit);
    await provider.destroy(started, emit);
    expect(() => statSync(info.instanceDir ?? "")).toThrow();
    expect(events.map((e) => e.kind)).toEqual([
      "system.qemu.domain_started",
      "system.qemu.domain_stopped",
      "system.qemu.domain_destroyed",
    ]);
  });
});
