/**
 * Pure QEMU command-line builder: one VmSpec in, the binary and argv out. Tested with toEqual;
 * everything that touches the machine (spawning, sockets, files) lives elsewhere.
 */

/** Guest architecture, named as Debian and the hub name it. */
export type VmArch = "amd64" | "arm64";

/** How the guest executes: KVM (same-arch host with a working /dev/kvm) or TCG emulation. */
export type Accel = "kvm" | "tcg";

/** A QEMU user-network port forward: host `hostAddr:hostPort` -> guest `guestPort`. */
export interface HostForward {
  proto: "tcp" | "udp";
  /** Host address to bind; default 127.0.0.1. */
  hostAddr?: string;
  hostPort: number;
  guestPort: number;
}

/**
 * The guest NIC: QEMU user networking (hub at 10.0.2.2), an existing host tap, a tap on the bridge of a
 * lab network namespace (QEMU then runs inside that namespace; see `lab-tap.ts`), or none.
 */
export type VmNetwork =
  | { kind: "user"; hostForwards?: readonly HostForward[] }
  | { kind: "tap"; ifname: string }
  | { kind: "lab"; netns: string; bridge: string; tap: string }
  | { kind: "none" };

/** Interface names: at most 15 bytes (IFNAMSIZ - 1). */
const IFNAME = /^[A-Za-z0-9_.-]{1,15}$/;
/** Network namespace names (files under /run/netns). */
const NETNS = /^[A-Za-z0-9_.-]{1,64}$/;

function assertIfname(field: string, name: string): void {
  if (!IFNAME.test(name))
    throw new Error(`${field} ${JSON.stringify(name)}: bad name (1-15 of [A-Za-z0-9_.-])`);
}

/** A QEMU fw-cfg item: the guest sees it at /sys/firmware/qemu_fw_cfg/by_name/<name>/raw. */
export interface FwCfgFile {
  name: string;
  /** Host file with the content (QEMU reads it at start; the content never appears in argv). */
  file: string;
}

/** Everything that decides a VM's command line. */
export interface VmSpec {
  arch: VmArch;
  accel: Accel;
  kernel: string;
  initrd: string;
  memoryMib: number;
  vcpus: number;
  /** Kernel arguments added after the console and panic ones. */
  kernelArgs?: readonly string[];
  /** Serial console (ttyS0 / ttyAMA0) is appended to this file (every boot of the instance). */
  serialLog: string;
  /** QMP listens on this unix socket. */
  qmpSocket: string;
  network: VmNetwork;
  /** Guest MAC; default 52:54:00:12:34:56 (QEMU's). */
  mac?: string;
  fwCfg?: readonly FwCfgFile[];
  /** Override the binary (default qemu-system-x86_64 / qemu-system-aarch64). */
  qemuBinary?: string;
  /** Appended verbatim (e.g. extra -device lines for tests). */
  extraArgs?: readonly string[];
  /** The CPU model under TCG (default {@link TCG_CPU}); KVM always uses `host`. */
  tcgCpu?: string;
  /** Raw disk images attached as virtio disks, in order (/dev/vda, /dev/vdb, ...). */
  disks?: readonly string[];
}

/** Serial console device the kernel writes to, per arch. */
export const CONSOLE: Record<VmArch, string> = { amd64: "ttyS0", arm64: "ttyAMA0" };

/**
 * The CPU model under TCG, per arch. Bun needs modern CPU features (AVX2 on x64), so amd64 emulates the
 * most capable CPU QEMU has. On arm64, `max` (SVE, pointer authentication, MTE, ... emulated by QEMU 7.2)
 * made Bun crash or compute garbage in 2 of 12 boots (segfaults, corrupted ASN.1 in the agent);
 * `neoverse-n1` (ARMv8.2 with LSE atomics) booted 12 of 12 and faster (decision 0012).
 */
export const TCG_CPU: Record<VmArch, string> = { amd64: "max", arm64: "neoverse-n1" };

/**
 * Kernel arguments only TCG needs, per arch. amd64: `tsc=unstable`. With a stable TSC the kernel flips
 * the `__sched_clock_stable` static key at late init, with every vCPU running; under multi-threaded TCG
 * that live text patch (int3, then the new bytes) raced another vCPU in `sched_clock_cpu` about once in
 * fifty boots (`Oops: int3` right after `sched_clock: Marking stable`, the node never enrolled). With
 * the TSC unstable from the start the key is never flipped; the clocksource is the HPET (boots 0.4 s
 * slower in the median, decision 0017). KVM guests use kvm-clock and need none of this.
 */
export const TCG_KERNEL_ARGS: Record<VmArch, readonly string[]> = { amd64: ["tsc=unstable"], arm64: [] };

/**
 * The `-accel` value under TCG, per arch. amd64 runs single-threaded TCG: x86 live text patching
 * (static keys, jump labels) puts an int3 on the site, writes the new bytes and syncs the other CPUs;
 * multi-threaded TCG can still run a stale translation of the half-patched code on another vCPU, and
 * the kernel dies on an int3 nobody owns. After `tsc=unstable` fixed the boot-time case, the same
 * oops hit at run time (`Oops: int3` in kmem_cache_free as runc created a container's cgroup, smoke
 * pass 2, 2026-12-05). One TCG thread runs every vCPU in turn, so no vCPU ever sees a half-done patch
 * (decision 0021). arm64 patches text under stop_machine and keeps multi-threaded TCG.
 */
export const TCG_ACCEL: Record<VmArch, string> = { amd64: "tcg,thread=single", arm64: "tcg" };

/** QEMU binary per arch. */
export const QEMU_BINARY: Record<VmArch, string> = {
  amd64: "qemu-system-x86_64",
  arm64: "qemu-system-aarch64",
};

/** fw-cfg names must be `opt/...` and at most 55 bytes (QEMU's FW_CFG_MAX_FILE_PATH - 1). */
export function assertFwCfgName(name: string): void {
  if (!/^opt\/[A-Za-z0-9._/-]+$/.test(name) || name.length > 55) {
    throw new Error(
      `fw_cfg name ${JSON.stringify(name)}: must match opt/[A-Za-z0-9._/-]+ and be <= 55 bytes`,
    );
  }
}

/** QEMU option values escape a comma by doubling it. */
function optValue(v: string): string {
  return v.replaceAll(",", ",,");
}

function netArgs(net: VmNetwork, mac: string): string[] {
  // romfile= drops the iPXE option ROM: we boot the kernel directly, and the ROM costs time under TCG.
  const nic = ["-device", `virtio-net-pci,netdev=net0,mac=${mac},romfile=`];
  switch (net.kind) {
    case "none":
      return [];
    case "user": {
      const fwd = (net.hostForwards ?? []).map(
        (f) => `,hostfwd=${f.proto}:${f.hostAddr ?? "127.0.0.1"}:${f.hostPort}-:${f.guestPort}`,
      );
      return ["-netdev", `user,id=net0${fwd.join("")}`, ...nic];
    }
    case "tap":
      assertIfname("tap ifname", net.ifname);
      return ["-netdev", `tap,id=net0,ifname=${net.ifname},script=no,downscript=no`, ...nic];
    case "lab":
      assertIfname("lab tap", net.tap);
      return ["-netdev", `tap,id=net0,ifname=${net.tap},script=no,downscript=no`, ...nic];
  }
}

/** `ip netns exec <ns>` before QEMU on a lab network (it execs QEMU: the pid stays QEMU's). */
function netnsPrefix(net: VmNetwork): string[] {
  if (net.kind !== "lab") return [];
  if (!NETNS.test(net.netns)) throw new Error(`lab netns ${JSON.stringify(net.netns)}: bad name`);
  return ["ip", "netns", "exec", net.netns];
}

/**
 * Builds `[binary, ...argv]` for a VM (on a lab network the binary is `ip`: `ip netns exec <ns> qemu-...`).
 * @example const [bin, ...args] = buildQemuArgv({ arch: "arm64", accel: "tcg", ... });
 */
export function buildQemuArgv(s: VmSpec): string[] {
  if (!Number.isInteger(s.memoryMib) || s.memoryMib < 128)
    throw new Error(`memoryMib ${s.memoryMib}: need >= 128`);
  if (!Number.isInteger(s.vcpus) || s.vcpus < 1) throw new Error(`vcpus ${s.vcpus}: need >= 1`);
  const machine = s.arch === "amd64" ? "q35" : "virt";
  if (s.tcgCpu !== undefined && !/^[A-Za-z0-9._=,+-]+$/.test(s.tcgCpu))
    throw new Error(`tcgCpu ${JSON.stringify(s.tcgCpu)}: not a CPU model`);
  const cpu = s.accel === "kvm" ? "host" : (s.tcgCpu ?? TCG_CPU[s.arch]);
  const append = [
    `console=${CONSOLE[s.arch]}`,
    "panic=-1",
    ...(s.accel === "tcg" ? TCG_KERNEL_ARGS[s.arch] : []),
    ...(s.kernelArgs ?? []),
  ].join(" ");
  const fwCfg = (s.fwCfg ?? []).flatMap((f) => {
    assertFwCfgName(f.name);
    return ["-fw_cfg", `name=${f.name},file=${optValue(f.file)}`];
  });
  return [
    ...netnsPrefix(s.network),
    s.qemuBinary ?? QEMU_BINARY[s.arch],
    "-machine",
    machine,
    "-accel",
    s.accel === "tcg" ? TCG_ACCEL[s.arch] : s.accel,
    "-cpu",
    cpu,
    "-m",
    String(s.memoryMib),
    "-smp",
    String(s.vcpus),
    "-nodefaults",
    "-no-user-config",
    "-display",
    "none",
    "-no-reboot",
    "-kernel",
    s.kernel,
    "-initrd",
    s.initrd,
    "-append",
    append,
    // Appended, so a node's serial log keeps every boot (a reboot's reason stays readable).
    "-chardev",
    `file,id=serial0,path=${optValue(s.serialLog)},append=on`,
    "-serial",
    "chardev:serial0",
    "-monitor",
    "none",
    "-qmp",
    `unix:${optValue(s.qmpSocket)},server=on,wait=off`,
    "-device",
    "virtio-rng-pci",
    ...netArgs(s.network, s.mac ?? "52:54:00:12:34:56"),
    ...(s.disks ?? []).flatMap((file) => ["-drive", `file=${optValue(file)},if=virtio,format=raw`]),
    ...fwCfg,
    ...(s.extraArgs ?? []),
  ];
}

/**
 * Parses the hub's instance network string: "user", "none", "tap:<ifname>" or "lab:<netns>:<bridge>".
 * A lab network needs the instance id: its tap is named from it ({@link labTapName}).
 */
export function parseNetwork(
  network: string,
  hostForwards?: readonly HostForward[],
  instanceId?: string,
): VmNetwork {
  if (network === "user") return { kind: "user", hostForwards };
  if (network === "none") return { kind: "none" };
  const tap = /^tap:([A-Za-z0-9_.-]{1,15})$/.exec(network);
  if (tap?.[1]) return { kind: "tap", ifname: tap[1] };
  const lab = /^lab:([A-Za-z0-9_.-]{1,64}):([A-Za-z0-9_.-]{1,15})$/.exec(network);
  if (lab?.[1] && lab[2]) {
    if (!instanceId)
      throw new Error(
        `network ${JSON.stringify(network)}: a lab tap is named from the instance id; none given`,
      );
    return { kind: "lab", netns: lab[1], bridge: lab[2], tap: labTapName(instanceId) };
  }
  throw new Error(
    `network ${JSON.stringify(network)}: expected "user", "none", "tap:<ifname>" or "lab:<netns>:<bridge>"`,
  );
}

/** The tap of an instance on a lab network: `pnt` + 8 hex of sha256(id), 11 bytes, stable per instance. */
export function labTapName(id: string): string {
  return `pnt${new Bun.CryptoHasher("sha256").update(`tap:${id}`).digest("hex").slice(0, 8)}`;
}

/** A stable locally administered MAC (QEMU's 52:54:00 prefix) derived from an instance id. */
export function macFor(id: string): string {
  const h = new Bun.CryptoHasher("sha256").update(id).digest();
  const b = [h[0], h[1], h[2]].map((x) => (x ?? 0).toString(16).padStart(2, "0"));
  return `52:54:00:${b.join(":")}`;
}

/** The label the agent mounts at /persist (node-agent boot/tasks/mount-persist.ts). */
export const PERSIST_LABEL = "persist";

/**
 * `mkfs.ext4` for a persistent instance's /persist disk image: labelled {@link PERSIST_LABEL}, with
 * `encrypt` (fscrypt for storage exports) and `verity` (fs-verity); the image file exists at its size.
 */
export function persistMkfsArgv(image: string): string[] {
  if (image === "" || image.startsWith("-"))
    throw new Error(`persist image ${JSON.stringify(image)}: bad path`);
  return ["mkfs.ext4", "-q", "-F", "-b", "4096", "-O", "encrypt,verity", "-L", PERSIST_LABEL, image];
}
