/**
 * The "qemu" InstanceProvider: one detached QEMU per instance, direct kernel boot of the image
 * builder's output, identity by fw-cfg (opt/com.powernode/{instance_uuid,bootstrap_token,
 * platform_url,ca_pem}, files 0600 under the instance dir; the token never appears in argv).
 */

import { existsSync, mkdirSync, renameSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { EVENTS, withSeverity } from "@powernode/proto";
import type { Logger } from "../../log.ts";
import type {
  BootMaterial,
  EmitEvent,
  InstanceProvider,
  ProviderInstance,
  ProviderStatus,
} from "../provider.ts";
import { type Accel, type HostForward, macFor, parseNetwork, persistMkfsArgv } from "./argv.ts";
import { createQemuExec, type QemuExec } from "./exec.ts";
import { type LabNetwork, removeLabTap, setUpLabTap } from "./lab-tap.ts";
import { defaultImageDir, isVmAlive, launchVm, stopVm, type VmRef, vmStatus } from "./vm.ts";

/** Options of createQemuProvider; `stateDir` and `log` are what the hub's registry passes. */
export interface QemuProviderOptions {
  /** Per-instance dirs (`<stateDir>/instances/<id>`: qmp.sock, fw_cfg/, qemu.log). */
  stateDir: string;
  log?: Logger;
  /** Image builder output; default POWERNODE_IMAGE_DIR or `<repo>/initramfs/build`. */
  imageDir?: string;
  /** Serial logs (kept after destroy); default POWERNODE_SERIAL_LOG_DIR or `<stateDir>/serial`. */
  serialLogDir?: string;
  /** "auto" (default) probes KVM per arch; POWERNODE_FORCE_TCG=1 forces TCG. */
  accel?: Accel | "auto";
  /** "auto" (default): the uncompressed initramfs.cpio under TCG (boots seconds faster), else the .zst. */
  initrdFormat?: "auto" | "zst" | "raw";
  /** Port forwards for "user" networking, per instance (e.g. a free host port to the guest's 22). */
  hostForwards?: (instance: ProviderInstance) => readonly HostForward[];
  /** CPU model under TCG per arch (default: argv.ts TCG_CPU). */
  tcgCpu?: Partial<Record<"amd64" | "arm64", string>>;
  /** Extra kernel arguments for every instance. */
  kernelArgs?: readonly string[];
  /** Extra QEMU arguments for every instance (debugging, tests: e.g. "-S" to start paused). */
  extraArgs?: readonly string[];
  /** Size of a persistent instance's /persist disk (sparse); default 2048 MiB. */
  persistDiskMib?: number;
  /** How long a guest gets to act on the ACPI power button before `quit`; default 5000 ms. */
  stopGraceMs?: number;
  exec?: QemuExec;
}

/** The instance's lab network, when it is on one (a string that does not parse is no lab). */
function labOf(instance: ProviderInstance): LabNetwork | undefined {
  if (!instance.network.startsWith("lab:")) return undefined;
  try {
    const net = parseNetwork(instance.network, undefined, instance.id);
    return net.kind === "lab" ? net : undefined;
  } catch {
    return undefined;
  }
}

function refOf(instance: ProviderInstance): VmRef | undefined {
  const pid = Number(instance.providerInfo.pid);
  const qmpSocket = instance.providerInfo.qmpSocket;
  return Number.isInteger(pid) && pid > 0 && qmpSocket ? { pid, qmpSocket } : undefined;
}

/**
 * Creates the QEMU provider.
 * @example createProviderRegistry([createQemuProvider({ stateDir: "/var/lib/powernode/qemu" })])
 */
export function createQemuProvider(opts: QemuProviderOptions): InstanceProvider {
  const imageDir = opts.imageDir ?? defaultImageDir();
  const serialDir =
    opts.serialLogDir ?? process.env.POWERNODE_SERIAL_LOG_DIR ?? join(opts.stateDir, "serial");
  const instanceDir = (i: ProviderInstance) => join(opts.stateDir, "instances", i.id);
  const exec = opts.exec ?? createQemuExec();
  /** Removes a lab instance's tap; a failure is logged, never fatal to stop/destroy. */
  const dropTap = async (instance: ProviderInstance) => {
    const lab = labOf(instance);
    if (!lab) return;
    await removeLabTap(exec, lab).catch((error: unknown) =>
      opts.log?.warn("qemu: removing lab tap", { instance: instance.id, tap: lab.tap, error }),
    );
  };

  /**
   * A persistent instance's /persist disk: `<instance dir>/persist.img`, made once (sparse, ext4
   * labelled persist) and kept across stops and starts; removed with the instance.
   */
  const persistDisk = async (instance: ProviderInstance): Promise<string | undefined> => {
    if (!instance.persistent) return undefined;
    const dir = instanceDir(instance);
    const image = join(dir, "persist.img");
    if (existsSync(image)) return image;
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const part = `${image}.part`;
    writeFileSync(part, "", { mode: 0o600 });
    truncateSync(part, (opts.persistDiskMib ?? 2048) * 2 ** 20);
    const [bin, ...args] = persistMkfsArgv(part) as [string, ...string[]];
    await exec.run(bin, args, { timeoutMs: 60_000 });
    renameSync(part, image);
    return image;
  };

  return {
    name: "qemu",

    async start(instance: ProviderInstance, boot: BootMaterial, emit: EmitEvent) {
      const existing = refOf(instance);
      if (existing && isVmAlive(existing)) return instance.providerInfo; // already running: idempotent
      const stateDir = instanceDir(instance);
      const serialLog = join(serialDir, `${instance.name}.log`);
      const network = parseNetwork(instance.network, opts.hostForwards?.(instance), instance.id);
      if (network.kind === "lab") {
        const { replaced } = await setUpLabTap(exec, network);
        if (replaced)
          opts.log?.info("qemu: replaced a stale lab tap", { instance: instance.id, tap: network.tap });
      }
      const disk = await persistDisk(instance);
      const vm = await launchVm({
        arch: instance.arch,
        name: instance.name,
        stateDir,
        imageDir,
        memoryMib: instance.memoryMib,
        vcpus: instance.vcpus,
        accel: opts.accel,
        initrdFormat: opts.initrdFormat,
        serialLog,
        network,
        mac: macFor(instance.id),
        kernelArgs: opts.kernelArgs,
        ...(opts.tcgCpu?.[instance.arch] ? { tcgCpu: opts.tcgCpu[instance.arch] } : {}),
        extraArgs: opts.extraArgs,
        ...(disk ? { disks: [disk] } : {}),
        fwCfg: {
          instance_uuid: boot.instanceUuid,
          bootstrap_token: boot.bootstrapToken,
          platform_url: boot.platformUrl,
          ca_pem: boot.caPem,
        },
        exec,
      }).catch(async (err: unknown) => {
        await dropTap(instance);
        throw err;
      });
      opts.log?.info("qemu domain started", {
        instance: instance.id,
        pid: vm.pid,
        accel: vm.accel,
        why: vm.accelReason,
      });
      await emit(EVENTS.qemuDomainStarted, {
        accel: vm.accel,
        accelReason: vm.accelReason,
        arch: vm.arch,
        pid: vm.pid,
        serialLog: vm.serialLog,
        initrd: vm.initrd,
      });
      return {
        pid: String(vm.pid),
        qmpSocket: vm.qmpSocket,
        serialLog: vm.serialLog,
        instanceDir: stateDir,
        qemuLog: join(stateDir, "qemu.log"),
        accel: vm.accel,
        arch: vm.arch,
        initrd: vm.initrd,
        ...(disk ? { persistDisk: disk } : {}),
        ...(network.kind === "lab" ? { netns: network.netns, tap: network.tap } : {}),
      };
    },

    async stop(instance: ProviderInstance, emit: EmitEvent) {
      const ref = refOf(instance);
      if (!ref) return dropTap(instance);
      const how = await stopVm(ref, opts.stopGraceMs ?? 5_000);
      await dropTap(instance);
      if (how !== "not-running") {
        await emit(
          how === "killed" ? withSeverity(EVENTS.qemuDomainStopped, "warn") : EVENTS.qemuDomainStopped,
          {
            pid: ref.pid,
            how,
          },
        );
      }
    },

    async destroy(instance: ProviderInstance, emit: EmitEvent) {
      const ref = refOf(instance);
      if (ref) await stopVm(ref, 0);
      await dropTap(instance);
      // The serial log lives outside the instance dir and is kept for post-mortems.
      rmSync(instanceDir(instance), { recursive: true, force: true });
      await emit(EVENTS.qemuDomainDestroyed, { instanceDir: instanceDir(instance) });
    },

    async status(instance: ProviderInstance): Promise<ProviderStatus> {
      const ref = refOf(instance);
      return ref ? vmStatus(ref) : "stopped";
    },
  };
}
