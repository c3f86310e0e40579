/**
 * Running VMs: launchVm() starts QEMU detached (serial to a file, QMP on a socket, fw-cfg files
 * 0600) and returns a handle; stopVm()/vmStatus() work from the recorded pid + QMP socket alone,
 * so the hub can manage a VM it started before a restart.
 */

import { createHash } from "node:crypto";
import {
  chmodSync,
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { detectAccel } from "./accel.ts";
import { type Accel, buildQemuArgv, type VmArch, type VmNetwork } from "./argv.ts";
import { createQemuExec, type QemuExec } from "./exec.ts";
import { connectQmp } from "./qmp.ts";

/** fw-cfg namespace of the node's identity items (the agent reads .../by_name/opt/com.powernode/<key>/raw). */
export const FW_CFG_PREFIX = "opt/com.powernode/";

/** `<repo>/initramfs/build`, or POWERNODE_IMAGE_DIR. */
export function defaultImageDir(env: Record<string, string | undefined> = process.env): string {
  return env.POWERNODE_IMAGE_DIR ?? resolve(import.meta.dir, "../../../../initramfs/build");
}

/** Kernel and initrds of the image builder's output for arch; throws with the command to build them. */
export function resolveImage(
  imageDir: string,
  arch: VmArch,
): { kernel: string; initrd: string; initrdRaw?: string } {
  const dir = join(imageDir, arch, "kernel-initrd");
  const kernel = join(dir, "kernel");
  const initrd = join(dir, "initramfs.cpio.zst");
  for (const f of [kernel, initrd]) {
    if (!existsSync(f))
      throw new Error(`no node image: ${f} is missing; run bun initramfs/build.ts --arch ${arch}`);
  }
  const raw = join(dir, "initramfs.cpio");
  return existsSync(raw) ? { kernel, initrd, initrdRaw: raw } : { kernel, initrd };
}

/**
 * Which initrd to boot: the uncompressed cpio under TCG when the builder wrote one (the emulated
 * kernel spends seconds in zstd), the .zst otherwise or when asked.
 */
export function chooseInitrd(
  image: { initrd: string; initrdRaw?: string },
  accel: Accel,
  format: "auto" | "zst" | "raw" = "auto",
): string {
  if (format === "zst") return image.initrd;
  if (format === "raw") {
    if (!image.initrdRaw)
      throw new Error(`no uncompressed initramfs.cpio beside ${image.initrd}; rebuild the image`);
    return image.initrdRaw;
  }
  return accel === "tcg" && image.initrdRaw ? image.initrdRaw : image.initrd;
}

/** What identifies a running VM (recorded as the instance's providerInfo). */
export interface VmRef {
  pid: number;
  qmpSocket: string;
}

/** True while pid is a live (non-zombie) QEMU whose command line names this QMP socket (guards pid reuse). */
export function isVmAlive(ref: VmRef): boolean {
  try {
    const stat = readFileSync(`/proc/${ref.pid}/stat`, "utf8");
    if (/^\d+ \(.*\) Z/.test(stat)) return false;
    return readFileSync(`/proc/${ref.pid}/cmdline`, "utf8").includes(ref.qmpSocket);
  } catch {
    return false; // no such process
  }
}

/** Polls probe every intervalMs until it returns a value; rejects naming what it waited for. */
export async function waitFor<T>(
  what: string,
  probe: () => T | undefined | Promise<T | undefined>,
  timeoutMs: number,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Observed state of a VM. */
export type VmState = "running" | "stopped" | "unknown";

/** Asks QMP (falls back to pid liveness when QMP does not answer). */
export async function vmStatus(ref: VmRef): Promise<VmState> {
  if (!isVmAlive(ref)) return "stopped";
  try {
    const qmp = await connectQmp(ref.qmpSocket, 2_000);
    try {
      const s = await qmp.queryStatus();
      // paused/prelaunch still hold a machine; shutdown and guest-panicked only wait for QEMU to exit.
      return s.running || ["paused", "prelaunch", "suspended", "inmigrate"].includes(s.status)
        ? "running"
        : ["shutdown", "guest-panicked"].includes(s.status)
          ? "stopped"
          : "unknown";
    } finally {
      qmp.close();
    }
  } catch {
    return isVmAlive(ref) ? "running" : "stopped"; // QMP busy or gone: the pid is the best evidence
  }
}

/**
 * Stops a VM: ACPI powerdown via QMP, then QMP `quit` after graceMs, then SIGKILL. Idempotent.
 * Returns how it ended.
 */
export async function stopVm(
  ref: VmRef,
  graceMs = 5_000,
): Promise<"not-running" | "powerdown" | "quit" | "killed"> {
  if (!isVmAlive(ref)) return "not-running";
  const gone = (ms: number) =>
    waitFor("QEMU to exit", () => (isVmAlive(ref) ? undefined : true), ms, 50).then(
      () => true,
      () => false,
    );
  try {
    const qmp = await connectQmp(ref.qmpSocket, 2_000);
    try {
      await qmp.systemPowerdown();
      if (await gone(graceMs)) return "powerdown";
      await qmp.quit();
    } finally {
      qmp.close();
    }
    if (await gone(3_000)) return "quit";
  } catch {
    // QMP unusable: fall through to the signal
  }
  try {
    process.kill(ref.pid, "SIGKILL");
  } catch {
    // already gone between the check and the kill
  }
  await gone(5_000);
  return isVmAlive(ref)
    ? (() => {
        throw new Error(`QEMU pid ${ref.pid} survived SIGKILL`);
      })()
    : "killed";
}

/** Options of launchVm. Paths default under stateDir. */
export interface LaunchSpec {
  arch: VmArch;
  /** Name used for the serial log file and the events. */
  name: string;
  /** Directory for the QMP socket, fw_cfg files and qemu.log (created 0700). */
  stateDir: string;
  /** Default: resolveImage(imageDir ?? defaultImageDir(), arch) and chooseInitrd(). */
  kernel?: string;
  initrd?: string;
  /** "auto" (default): uncompressed initramfs.cpio under TCG if present, else the .zst. */
  initrdFormat?: "auto" | "zst" | "raw";
  imageDir?: string;
  memoryMib?: number;
  vcpus?: number;
  /** "auto" (default) probes KVM; POWERNODE_FORCE_TCG=1 forces TCG. */
  accel?: Accel | "auto";
  /** Default `$POWERNODE_SERIAL_LOG_DIR/<name>.log`, else `<stateDir>/serial.log`. */
  serialLog?: string;
  /** fw-cfg items by key, published as opt/com.powernode/<key> (content goes to a 0600 file, never argv). */
  fwCfg?: Record<string, string>;
  network?: VmNetwork;
  mac?: string;
  kernelArgs?: readonly string[];
  extraArgs?: readonly string[];
  /** Raw disk images attached as virtio disks (a persistent instance's /persist). */
  disks?: readonly string[];
  /** CPU model under TCG (default: argv.ts TCG_CPU). */
  tcgCpu?: string;
  exec?: QemuExec;
}

/** A running VM started by launchVm. */
export interface VmHandle extends VmRef {
  name: string;
  arch: VmArch;
  accel: Accel;
  accelReason: string;
  serialLog: string;
  stateDir: string;
  /** The initrd booted (initramfs.cpio under TCG, else initramfs.cpio.zst). */
  initrd: string;
  argv: string[];
  /** Resolves with the serial log text up to the first match; rejects on timeout or QEMU exit, with the log tail. */
  waitForSerial(re: RegExp, timeoutMs: number): Promise<string>;
  status(): Promise<VmState>;
  stop(graceMs?: number): Promise<"not-running" | "powerdown" | "quit" | "killed">;
  [Symbol.asyncDispose](): Promise<void>;
}

function readFrom(path: string, offset: number): { text: string; size: number } {
  if (!existsSync(path)) return { text: "", size: offset };
  const size = statSync(path).size;
  if (size <= offset) return { text: "", size: offset };
  const fd = openSync(path, "r");
  try {
    const buf = Buffer.alloc(size - offset);
    readSync(fd, buf, 0, buf.length, offset);
    return { text: buf.toString("utf8"), size };
  } finally {
    closeSync(fd);
  }
}

function tail(text: string, lines = 15): string {
  return text.split("\n").slice(-lines).join("\n");
}

/**
 * Starts a VM and waits until its QMP socket answers.
 * @example
 * await using vm = await launchVm({ arch: "amd64", name: "t1", stateDir: dir });
 * await vm.waitForSerial(/powernode-agent: /, 60_000);
 */
/** Longest unix socket path the kernel takes (sun_path is 108 bytes with its NUL). */
const MAX_SOCKET_PATH = 107;

/**
 * The QMP socket: `<stateDir>/qmp.sock`, or, when that path is too long for a unix socket (deep data
 * dirs), a short name under the temp dir derived from the state dir, so it stays stable per instance.
 */
export function qmpSocketPath(stateDir: string): string {
  const near = join(stateDir, "qmp.sock");
  if (Buffer.byteLength(near) <= MAX_SOCKET_PATH) return near;
  const id = createHash("sha256").update(resolve(stateDir)).digest("hex").slice(0, 16);
  return join(tmpdir(), `pn-qmp-${id}.sock`);
}

export async function launchVm(spec: LaunchSpec): Promise<VmHandle> {
  const exec = spec.exec ?? createQemuExec();
  mkdirSync(spec.stateDir, { recursive: true, mode: 0o700 });
  chmodSync(spec.stateDir, 0o700);
  const { accel, reason } =
    spec.accel === undefined || spec.accel === "auto"
      ? await detectAccel(exec, spec.arch)
      : { accel: spec.accel, reason: "requested" };
  const built =
    spec.kernel && spec.initrd ? undefined : resolveImage(spec.imageDir ?? defaultImageDir(), spec.arch);
  const image = {
    kernel: spec.kernel ?? built?.kernel ?? "",
    initrd: spec.initrd ?? (built ? chooseInitrd(built, accel, spec.initrdFormat) : ""),
  };
  const serialDir = process.env.POWERNODE_SERIAL_LOG_DIR;
  const serialLog =
    spec.serialLog ?? (serialDir ? join(serialDir, `${spec.name}.log`) : join(spec.stateDir, "serial.log"));
  mkdirSync(resolve(serialLog, ".."), { recursive: true });
  // The log is appended across boots of an instance: this boot's output starts here.
  const bootStart = existsSync(serialLog) ? statSync(serialLog).size : 0;
  const qmpSocket = qmpSocketPath(spec.stateDir);
  const fwDir = join(spec.stateDir, "fw_cfg");
  mkdirSync(fwDir, { recursive: true, mode: 0o700 });
  const fwCfg = Object.entries(spec.fwCfg ?? {})
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([key, value]) => {
      if (!/^[a-z0-9_]+$/.test(key)) throw new Error(`fw_cfg key ${JSON.stringify(key)}: use [a-z0-9_]`);
      const file = join(fwDir, key);
      writeFileSync(file, value, { mode: 0o600 });
      chmodSync(file, 0o600);
      return { name: `${FW_CFG_PREFIX}${key}`, file };
    });
  const argv = buildQemuArgv({
    arch: spec.arch,
    accel,
    kernel: image.kernel,
    initrd: image.initrd,
    memoryMib: spec.memoryMib ?? 1024,
    vcpus: spec.vcpus ?? 2,
    kernelArgs: spec.kernelArgs,
    serialLog,
    qmpSocket,
    network: spec.network ?? { kind: "user" },
    mac: spec.mac,
    fwCfg,
    extraArgs: spec.extraArgs,
    ...(spec.disks?.length ? { disks: spec.disks } : {}),
    ...(spec.tcgCpu ? { tcgCpu: spec.tcgCpu } : {}),
  });
  const [bin, ...args] = argv as [string, ...string[]];
  rmSync(qmpSocket, { force: true }); // a socket left by an earlier run would look ready
  const qemuLog = join(spec.stateDir, "qemu.log");
  const child = exec.spawnDetached(bin, args, qemuLog);
  let exitCode: number | undefined | null = null;
  void child.exited.then((c) => {
    exitCode = c;
  });
  const ref: VmRef = { pid: child.pid, qmpSocket };
  // Our own child: its exit event is authoritative (right after spawn /proc still shows the pre-exec cmdline).
  const dead = () => exitCode !== null;

  try {
    await waitFor(
      `QEMU (pid ${child.pid}) to open its QMP socket ${qmpSocket}`,
      async () => {
        if (dead()) {
          const log = existsSync(qemuLog) ? readFileSync(qemuLog, "utf8") : "";
          throw new Error(`QEMU exited at start (code ${exitCode ?? "?"}): ${tail(log, 5)}`);
        }
        if (!existsSync(qmpSocket)) return undefined;
        try {
          (await connectQmp(qmpSocket, 1_000)).close();
          return true;
        } catch {
          return undefined; // socket not accepting yet
        }
      },
      15_000,
      50,
    );
  } catch (e) {
    await stopVm(ref, 0).catch(() => "killed");
    throw new Error(`launching ${spec.name} (${spec.arch}, ${accel}): ${(e as Error).message}`, { cause: e });
  }

  let seen = "";
  let offset = bootStart;
  const handle: VmHandle = {
    ...ref,
    name: spec.name,
    arch: spec.arch,
    accel,
    accelReason: reason,
    serialLog,
    stateDir: spec.stateDir,
    initrd: image.initrd,
    argv,
    async waitForSerial(re, timeoutMs) {
      try {
        return await waitFor(
          `${re} in serial log ${serialLog}`,
          () => {
            const r = readFrom(serialLog, offset);
            offset = r.size;
            seen += r.text;
            const m = re.exec(seen);
            if (m) return seen.slice(0, m.index + m[0].length);
            if (dead()) throw new Error(`QEMU exited (code ${exitCode ?? "?"}) before ${re} appeared`);
            return undefined;
          },
          timeoutMs,
        );
      } catch (e) {
        throw new Error(`${(e as Error).message}; serial log tail:\n${tail(seen)}`, { cause: e });
      }
    },
    status: () => vmStatus(ref),
    stop: (graceMs) => stopVm(ref, graceMs),
    async [Symbol.asyncDispose]() {
      await stopVm(ref, 0);
    },
  };
  return handle;
}
