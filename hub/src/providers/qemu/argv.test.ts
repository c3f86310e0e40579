import { describe, expect, test } from "bun:test";
import { buildQemuArgv, labTapName, macFor, parseNetwork, persistMkfsArgv, type VmSpec } from "./argv.ts";

const base: VmSpec = {
  arch: "amd64",
  accel: "tcg",
  kernel: "/img/kernel",
  initrd: "/img/initramfs.cpio.zst",
  memoryMib: 1024,
  vcpus: 2,
  serialLog: "/logs/n1.log",
  qmpSocket: "/run/n1/qmp.sock",
  network: { kind: "user" },
  mac: "52:54:00:aa:bb:cc",
};

describe("buildQemuArgv", () => {
  test("amd64 under TCG: q35, single-threaded TCG, -cpu max, ttyS0 and tsc=unstable, serial file, QMP socket, rng, user net without iPXE ROM", () => {
    expect(buildQemuArgv(base)).toEqual([
      "qemu-system-x86_64",
      "-machine", "q35",
      "-accel", "tcg,thread=single",
      "-cpu", "max",
      "-m", "1024",
      "-smp", "2",
      "-nodefaults",
      "-no-user-config",
      "-display", "none",
      "-no-reboot",
      "-kernel", "/img/kernel",
      "-initrd", "/img/initramfs.cpio.zst",
      "-append", "console=ttyS0 panic=-1 tsc=unstable",
      "-chardev", "file,id=serial0,path=/logs/n1.log,append=on",
      "-serial", "chardev:serial0",
      "-monitor", "none",
      "-qmp", "unix:/run/n1/qmp.sock,server=on,wait=off",
      "-device", "virtio-rng-pci",
      "-netdev", "user,id=net0",
      "-device", "virtio-net-pci,netdev=net0,mac=52:54:00:aa:bb:cc,romfile=",
    ]); // biome-ignore format: flag/value pairs
  });

  test("arm64 under KVM: virt, -cpu host, ttyAMA0, extra kernel args", () => {
    const argv = buildQemuArgv({ ...base, arch: "arm64", accel: "kvm", kernelArgs: ["quiet"] });
    expect(argv[0]).toBe("qemu-system-aarch64");
    expect(argv.slice(1, 7)).toEqual(["-machine", "virt", "-accel", "kvm", "-cpu", "host"]);
    expect(argv[argv.indexOf("-append") + 1]).toBe("console=ttyAMA0 panic=-1 quiet");
  });

  test("fw-cfg items point at files (contents never in argv), commas escaped", () => {
    const argv = buildQemuArgv({
      ...base,
      fwCfg: [
        { name: "opt/com.powernode/bootstrap_token", file: "/s/fw,cfg/bootstrap_token" },
        { name: "opt/com.powernode/instance_uuid", file: "/s/instance_uuid" },
      ],
    });
    expect(argv.slice(-4)).toEqual([
      "-fw_cfg",
      "name=opt/com.powernode/bootstrap_token,file=/s/fw,,cfg/bootstrap_token",
      "-fw_cfg",
      "name=opt/com.powernode/instance_uuid,file=/s/instance_uuid",
    ]);
  });

  test("disks: one virtio raw drive each, in order, commas escaped; the /persist image's mkfs", () => {
    const argv = buildQemuArgv({ ...base, disks: ["/i/persist.img", "/i/a,b.img"] });
    const drives = argv.flatMap((a, i) => (a === "-drive" ? [argv[i + 1]] : []));
    expect(drives).toEqual([
      "file=/i/persist.img,if=virtio,format=raw",
      "file=/i/a,,b.img,if=virtio,format=raw",
    ]);
    expect(buildQemuArgv(base)).not.toContain("-drive");
    expect(persistMkfsArgv("/i/persist.img.part")).toEqual([
      "mkfs.ext4", "-q", "-F", "-b", "4096", "-O", "encrypt,verity", "-L", "persist", "/i/persist.img.part",
    ]); // biome-ignore format: flag/value pairs
    expect(() => persistMkfsArgv("-rf")).toThrow("bad path");
  });

  test("user networking with host forwards; tap networking", () => {
    const user = buildQemuArgv({
      ...base,
      network: { kind: "user", hostForwards: [{ proto: "tcp", hostPort: 2222, guestPort: 22 }] },
    });
    expect(user).toContain("user,id=net0,hostfwd=tcp:127.0.0.1:2222-:22");
    const tap = buildQemuArgv({ ...base, network: { kind: "tap", ifname: "pn-tap0" } });
    expect(tap).toContain("tap,id=net0,ifname=pn-tap0,script=no,downscript=no");
    expect(buildQemuArgv({ ...base, network: { kind: "none" } })).not.toContain("-netdev");
  });

  test("lab network: QEMU inside the namespace (ip netns exec), the instance's tap, same MAC", () => {
    const argv = buildQemuArgv({
      ...base,
      network: { kind: "lab", netns: "pnlab-site", bridge: "br0", tap: "pnt1a2b3c4d" },
    });
    expect(argv).toEqual([
      "ip", "netns", "exec", "pnlab-site",
      "qemu-system-x86_64",
      "-machine", "q35",
      "-accel", "tcg,thread=single",
      "-cpu", "max",
      "-m", "1024",
      "-smp", "2",
      "-nodefaults",
      "-no-user-config",
      "-display", "none",
      "-no-reboot",
      "-kernel", "/img/kernel",
      "-initrd", "/img/initramfs.cpio.zst",
      "-append", "console=ttyS0 panic=-1 tsc=unstable",
      "-chardev", "file,id=serial0,path=/logs/n1.log,append=on",
      "-serial", "chardev:serial0",
      "-monitor", "none",
      "-qmp", "unix:/run/n1/qmp.sock,server=on,wait=off",
      "-device", "virtio-rng-pci",
      "-netdev", "tap,id=net0,ifname=pnt1a2b3c4d,script=no,downscript=no",
      "-device", "virtio-net-pci,netdev=net0,mac=52:54:00:aa:bb:cc,romfile=",
    ]); // biome-ignore format: flag/value pairs
  });

  test.each([
    [{ memoryMib: 64 }, /memoryMib 64/],
    [{ vcpus: 0 }, /vcpus 0/],
    [{ fwCfg: [{ name: "com.powernode/x", file: "/f" }] }, /fw_cfg name/],
    [{ network: { kind: "tap", ifname: "bad name!" } }, /tap ifname/],
    [
      { network: { kind: "lab", netns: "ns", bridge: "br0", tap: "a-tap-name-too-long" } },
      /lab tap "a-tap-name-too-long"/,
    ],
    [{ network: { kind: "lab", netns: "bad ns", bridge: "br0", tap: "pnt0" } }, /lab netns "bad ns"/],
  ] as [Partial<VmSpec>, RegExp][])("rejects %p", (patch, re) => {
    expect(() => buildQemuArgv({ ...base, ...patch })).toThrow(re);
  });
});

describe("parseNetwork / macFor", () => {
  test("hub network strings", () => {
    expect(parseNetwork("user")).toEqual({ kind: "user", hostForwards: undefined });
    expect(parseNetwork("tap:pn0")).toEqual({ kind: "tap", ifname: "pn0" });
    expect(parseNetwork("none")).toEqual({ kind: "none" });
    const id = "0b9c6a4e-0000-4000-8000-000000000001";
    expect(parseNetwork("lab:pnlab-site:br0", undefined, id)).toEqual({
      kind: "lab",
      netns: "pnlab-site",
      bridge: "br0",
      tap: labTapName(id),
    });
    expect(() => parseNetwork("lab:pnlab-site:br0")).toThrow(/named from the instance id; none given/);
    expect(() => parseNetwork("lab:pnlab-site")).toThrow(/"lab:<netns>:<bridge>"/);
    expect(() => parseNetwork("bridge:x")).toThrow(/expected "user"/);
  });

  test("lab taps: pnt + 8 hex, at most 15 bytes, stable and distinct per id", () => {
    const a = labTapName("0b9c6a4e-0000-4000-8000-000000000001");
    expect(a).toMatch(/^pnt[0-9a-f]{8}$/);
    expect(a).toBe(labTapName("0b9c6a4e-0000-4000-8000-000000000001"));
    expect(a).not.toBe(labTapName("0b9c6a4e-0000-4000-8000-000000000002"));
  });

  test("MACs are stable per id, locally administered QEMU prefix", () => {
    expect(macFor("a")).toBe(macFor("a"));
    expect(macFor("a")).not.toBe(macFor("b"));
    expect(macFor("a")).toMatch(/^52:54:00(:[0-9a-f]{2}){3}$/);
  });
});

test("TCG CPU: max on amd64, neoverse-n1 on arm64 (max crashed Bun under QEMU 7.2), overridable", () => {
  const cpuOf = (argv: string[]) => argv[argv.indexOf("-cpu") + 1];
  expect(cpuOf(buildQemuArgv({ ...base, arch: "amd64", accel: "tcg" }))).toBe("max");
  expect(cpuOf(buildQemuArgv({ ...base, arch: "arm64", accel: "tcg" }))).toBe("neoverse-n1");
  expect(cpuOf(buildQemuArgv({ ...base, arch: "arm64", accel: "tcg", tcgCpu: "cortex-a76" }))).toBe(
    "cortex-a76",
  );
  expect(cpuOf(buildQemuArgv({ ...base, arch: "arm64", accel: "kvm", tcgCpu: "cortex-a76" }))).toBe("host");
  expect(() => buildQemuArgv({ ...base, tcgCpu: "max -S" })).toThrow(/tcgCpu/);
});
