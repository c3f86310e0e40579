import { afterEach, expect, test } from "bun:test";
import { join } from "node:path";
import { startTestHubFake } from "../../test/test-hub-fake.ts";
import { createTestRoot, TEST_RELEASE } from "../../test/test-root.ts";
import { createMemoryLog } from "../log.ts";
import { createSystemClock } from "../runtime/clock.ts";
import { createPhaseRecorder, PHASES } from "../runtime/phases.ts";
import { startAgentSession } from "../session/session.ts";
import { createRecordingExecFake } from "../sys/exec-fake.ts";
import { LibcError } from "../sys/libc.ts";
import type { MountSpec } from "../sys/mount.ts";
import { createNet } from "../sys/net.ts";
import type { BootContext } from "./boot-context.ts";
import { BootError, runSequence } from "./sequencer.ts";
import { bootSequence } from "./sequences.ts";

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

const LEASE = [
  "powernode-dhcp interface=eth0",
  "powernode-dhcp ip=10.0.2.15",
  "powernode-dhcp mask=24",
  "powernode-dhcp router=10.0.2.2",
  "powernode-dhcp dns=10.0.2.3",
].join("\n");

function bootContext(root: string, udhcpcFailures = 0) {
  const log = createMemoryLog();
  // Uptime from the test root's /proc/uptime, as on a node.
  const clock = createSystemClock(() => 12.34);
  let failures = udhcpcFailures;
  const exec = createRecordingExecFake({
    udhcpc: () => (failures-- > 0 ? { exitCode: 1, stderr: "udhcpc: no lease, failing" } : { stdout: LEASE }),
  });
  const mounts: Array<{ spec: MountSpec; target: string }> = [];
  const loaded: string[] = [];
  const ctx: BootContext = {
    root,
    exec,
    log,
    clock,
    phases: createPhaseRecorder(clock, log),
    mounter: { mount: (spec, target) => void mounts.push({ spec, target }) },
    kmodLoader: (path) => {
      loaded.push(path.slice(root.length));
      if (path.endsWith("virtio_pci.ko")) throw new LibcError("finit_module", 17);
    },
    net: createNet(exec, root),
    backoff: { initialMs: 10, maxMs: 20 },
    state: {},
  };
  return { ctx, log, exec, mounts, loaded };
}

test("the boot sequence against a node-shaped root: mounts, modules, fw-cfg identity, persist disk, DHCP, phases; then the session enrolls", async () => {
  const hub = await startTestHubFake();
  cleanup.push(() => hub.stop());
  const uuid = crypto.randomUUID();
  await using t = await createTestRoot({
    fwCfg: {
      instance_uuid: uuid,
      bootstrap_token: hub.issueToken(uuid),
      platform_url: hub.url,
      ca_pem: hub.caPem,
    },
    interfaces: ["eth0"],
    loadOrder: ["kernel/drivers/virtio/virtio_pci.ko", "kernel/drivers/firmware/qemu_fw_cfg.ko"],
    diskLabel: "persist",
    kmsgRecord: "6,341,7466486,-;Run /init as init process",
  });
  const { ctx, log, exec, mounts, loaded } = bootContext(t.root);
  await runSequence(bootSequence(), ctx);

  expect(mounts.map((m) => [m.spec.fstype, m.spec.target])).toEqual([
    ["proc", "/proc"],
    ["sysfs", "/sys"],
    ["devtmpfs", "/dev"],
    ["devpts", "/dev/pts"],
    ["tmpfs", "/dev/shm"],
    ["tmpfs", "/run"],
    ["tmpfs", "/tmp"],
    ["cgroup2", "/sys/fs/cgroup"],
    ["ext4", "/persist"],
  ]);
  expect(mounts.at(-1)?.spec.source).toBe("/dev/vda");
  expect(loaded).toEqual([
    `/lib/modules/${TEST_RELEASE}/kernel/drivers/virtio/virtio_pci.ko`,
    `/lib/modules/${TEST_RELEASE}/kernel/drivers/firmware/qemu_fw_cfg.ko`,
  ]);
  expect(log.lines).toContain(
    `powernode-agent: kernel modules: 1 loaded, 1 already present, 0 failed (${t.root}/lib/modules/${TEST_RELEASE})`,
  );
  expect(exec.calls.map((c) => [c.cmd, ...c.args].join(" "))).toEqual([
    "ip link set dev lo up",
    "ip link set dev eth0 up",
    `udhcpc -i eth0 -f -q -n -t 5 -T 3 -s ${t.root}/run/powernode/udhcpc.script`,
    "ip addr replace 10.0.2.15/24 dev eth0",
    "ip route replace default via 10.0.2.2 dev eth0",
  ]);
  expect(await Bun.file(join(t.root, "etc/resolv.conf")).text()).toBe("nameserver 10.0.2.3\n");
  expect(ctx.state).toMatchObject({
    identitySource: "fw-cfg",
    stateDir: "/persist/powernode",
    persistent: true,
    network: { interface: "eth0", address: "10.0.2.15/24", method: "dhcp" },
  });
  expect(log.lines.some((l) => l.includes(ctx.state.identity?.bootstrapToken ?? "?"))).toBe(false);
  expect(ctx.phases.all().map((p) => [p.kind, p.uptimeSeconds])).toEqual([
    [PHASES.kernelBooted, 7.466486],
    [PHASES.agentStarted, 12.34],
    [PHASES.networkUp, 12.34],
  ]);
  expect(log.lines).toContain("powernode-agent: phase system.network.up at 12.34s");

  // The session continues from the boot's phases: all five reach the hub.
  const identity = ctx.state.identity;
  if (!identity) throw new Error("no identity");
  const s = await startAgentSession({
    identity,
    stateDir: join(t.root, ctx.state.stateDir ?? ""),
    clock: ctx.clock,
    log,
    phases: ctx.phases,
    backoff: { initialMs: 20, maxMs: 100 },
  });
  cleanup.push(() => s.stop());
  await s.waitFor(
    "all five phases delivered",
    (x) => x.phaseEvents().length === 5 && x.phaseEvents().every((p) => p.sent),
  );
  expect(hub.reports.flatMap((r) => r.req.events.map((e) => e.kind))).toEqual([
    PHASES.kernelBooted,
    PHASES.agentStarted,
    PHASES.networkUp,
    PHASES.agentEnrolled,
    PHASES.heartbeatReceived,
  ]);
}, 30_000);

test("no persist disk: tmpfs /persist; static ip from the kernel cmdline; DHCP not run", async () => {
  const uuid = "3f2c6a52-8d7e-4b1a-9c3d-2e5f7a8b9c0d";
  const ca = Buffer.from("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n").toString("base64");
  await using t = await createTestRoot({
    cmdline: `console=ttyS0 powernode.instance_uuid=${uuid} powernode.bootstrap_token=tok powernode.platform_url=https://10.0.2.2:8443 powernode.ca_pem=${ca} powernode.ip=192.168.7.20/24,192.168.7.1`,
    interfaces: ["enp0s3"],
  });
  const { ctx, exec, mounts, log } = bootContext(t.root);
  await runSequence(bootSequence(), ctx);
  expect(mounts.at(-1)?.spec).toMatchObject({
    fstype: "tmpfs",
    target: "/persist",
    data: "mode=0700,size=64m",
  });
  expect(ctx.state).toMatchObject({ identitySource: "kernel cmdline", persistent: false });
  expect(log.lines.some((l) => l.includes("credentials are lost at reboot"))).toBe(true);
  expect(exec.calls.map((c) => [c.cmd, ...c.args].join(" "))).toEqual([
    "ip link set dev lo up",
    "ip link set dev enp0s3 up",
    "ip addr replace 192.168.7.20/24 dev enp0s3",
    "ip route replace default via 192.168.7.1 dev enp0s3",
  ]);
}, 30_000);

test("DHCP is retried with backoff, saying so on the console", async () => {
  const uuid = crypto.randomUUID();
  await using t = await createTestRoot({
    fwCfg: {
      instance_uuid: uuid,
      bootstrap_token: "t",
      platform_url: "https://h:1",
      ca_pem: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----",
    },
    interfaces: ["eth0"],
  });
  const { ctx, log } = bootContext(t.root, 2);
  await runSequence(bootSequence(), ctx);
  const retries = log.lines.filter((l) => l.includes("network: DHCP on eth0 failed (udhcpc -i eth0"));
  expect(retries).toHaveLength(2);
  expect(retries[0]).toMatch(/exit 1: udhcpc: no lease, failing\), retrying in 0\.0 s$/);
  expect(ctx.state.network?.address).toBe("10.0.2.15/24");
}, 30_000);

test("no identity anywhere: the boot stops in the identity phase listing what was tried", async () => {
  await using t = await createTestRoot({ interfaces: ["eth0"] });
  const { ctx } = bootContext(t.root);
  const p = runSequence(bootSequence(), ctx);
  await expect(p).rejects.toBeInstanceOf(BootError);
  await expect(p).rejects.toThrow(
    "boot phase identity, task discoverIdentity: identity from any source: no source answered: tried fw-cfg (no instance_uuid), kernel cmdline (no instance_uuid)",
  );
}, 30_000);

test("no identity but powernode.claim_url with the CA: the identity phase passes and the claim phase is armed", async () => {
  const pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
  await using t = await createTestRoot({
    interfaces: ["eth0"],
    cmdline: `console=ttyS0 powernode.claim_url=https://10.0.2.2:8443 powernode.ca_pem=${Buffer.from(pem).toString("base64")}`,
  });
  const { ctx, log } = bootContext(t.root);
  const upToIdentity = bootSequence().slice(0, bootSequence().findIndex((p) => p.name === "identity") + 1);
  await runSequence(upToIdentity, ctx);
  expect(ctx.state.identity).toBeUndefined();
  expect(ctx.state.claim).toEqual({ url: "https://10.0.2.2:8443", caPem: pem });
  expect(log.lines.some((l) => l.includes("claim mode with https://10.0.2.2:8443"))).toBe(true);
  expect(bootSequence().map((p) => p.name)).toEqual([
    "early",
    "init",
    "kmods",
    "identity",
    "storage",
    "network",
    "claim",
  ]);
}, 30_000);

test("claim mode without the hub's CA: the boot stops naming ca_pem", async () => {
  await using t = await createTestRoot({
    interfaces: ["eth0"],
    cmdline: "powernode.claim_url=https://10.0.2.2:8443",
  });
  const { ctx } = bootContext(t.root);
  await expect(runSequence(bootSequence(), ctx)).rejects.toThrow(
    "claim mode from the kernel cmdline: ca_pem: missing (claim mode needs the hub's CA)",
  );
}, 30_000);
