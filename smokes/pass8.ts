/**
 * Pass 8, db tier: claim mode against a real hub, with the agent's own claim code in process.
 * A fake device (a temp root with /sys/class/net, DMI and /proc files, read by the agent's facts
 * reader) reports to the hub's TLS listener, prints its code, and polls; `pnctl claims ls` shows it,
 * `pnctl claims confirm <code> --template` creates and binds its instance; the claim loop returns the
 * identity (token >= 32 characters, the instance uuid) and the agent session enrolls and heartbeats.
 * Then: a rejected device hears so and may not ask again; an expired code makes the device ask for a
 * new one; discoveries past the per-source burst are refused; bad facts are refused by field. The
 * disk-image CI webhook: every outcome and 1,000 malformed requests (pass8/disk-image-webhook.ts).
 *
 * Single tier: a QEMU node with no -kernel and no fw-cfg boots from its NIC's iPXE ROM (Debian
 * ipxe-qemu); QEMU user networking's DHCP hands it `bootfile=` the hub's `/boot/ipxe`; it fetches the
 * kernel and initramfs from the hub, enters claim mode and prints its code on the serial console; the
 * smoke confirms it with pnctl and waits for the node to enroll and heartbeat. Then the disk images: the
 * x86-efi image under OVMF (pass8/efi-image.ts), the Pi 4 image's boot partition in QEMU virt
 * (pass8/rpi-virt.ts) and the arm64-efi image under AAVMF (pass8/arm64-efi.ts), each enrolling from the
 * identity.cfg on it.
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { Code, ConnectError } from "@connectrpc/connect";
import { Arch, EVENTS, NodeState } from "@powernode/proto";
import { eq } from "drizzle-orm";
import { DEFAULT_CLAIMS } from "../hub/src/claims/claims-config.ts";
import { cliFor } from "../hub/src/cli/test-cli.ts";
import { fleetEvents, instances, physicalDevices } from "../hub/src/db/schema/index.ts";
import type { RunningHub } from "../hub/src/hub.ts";
import { createQemuExec, detectAccel } from "../hub/src/providers/qemu/index.ts";
import { buildImage } from "../initramfs/index.ts";
import { claimIdentity, createDeviceClaimClient } from "../node-agent/src/claim/claim-client.ts";
import type { Identity } from "../node-agent/src/identity/parse-identity.ts";
import { createMemoryLog } from "../node-agent/src/log.ts";
import { createSystemClock } from "../node-agent/src/runtime/clock.ts";
import { startAgentSession } from "../node-agent/src/session/session.ts";
import { readDeviceFacts } from "../node-agent/src/sys/device-facts.ts";
import { tierAtLeast } from "./lib/args.ts";
import { type SmokeHub, startSmokeHub } from "./lib/hub.ts";
import { definePass, type PassContext, runPass } from "./lib/pass.ts";
import { waitFor } from "./lib/wait.ts";
import { arm64EfiNode } from "./pass8/arm64-efi.ts";
import { diskImageWebhookChecks } from "./pass8/disk-image-webhook.ts";
import { efiImageNodes } from "./pass8/efi-image.ts";
import { q35Argv } from "./pass8/q35.ts";
import { rpiVirtNode } from "./pass8/rpi-virt.ts";

/** A node-shaped root holding what the facts reader reads (a Pi 4 or a PC). */
function deviceRoot(n: number, pi: boolean): string {
  const root = mkdtempSync(join(tmpdir(), "pass8-device-"));
  const hex = n.toString(16).padStart(2, "0");
  const files: Record<string, string> = pi
    ? {
        "sys/class/net/eth0/address": `dc:a6:32:00:00:${hex}\n`,
        "sys/class/net/lo/address": "00:00:00:00:00:00\n",
        "proc/device-tree/model": "Raspberry Pi 4 Model B Rev 1.4\u0000",
        "proc/cpuinfo": `processor : 0\nprocessor : 1\nprocessor : 2\nprocessor : 3\nSerial : 10000000deadbe${hex}\n`,
        "proc/meminfo": "MemTotal: 3884360 kB\n",
      }
    : {
        "sys/class/net/enp1s0/address": `52:54:00:08:00:${hex}\n`,
        "sys/class/dmi/id/product_uuid": `${crypto.randomUUID().toUpperCase()}\n`,
        "sys/class/dmi/id/product_name": "Standard PC (Q35 + ICH9, 2009)\n",
        "proc/cpuinfo": "processor : 0\nprocessor : 1\n",
        "proc/meminfo": "MemTotal: 2030000 kB\n",
      };
  for (const [p, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, p)), { recursive: true });
    writeFileSync(join(root, p), text);
  }
  return root;
}

/** The agent's claim loop for one fake device, its announced codes collected. */
function runDevice(hub: RunningHub, root: string, arch: "amd64" | "arm64") {
  const codes: string[] = [];
  const log = createMemoryLog();
  const abort = new AbortController();
  const target = { url: hub.mtlsUrl, caPem: hub.caPem };
  const done: Promise<Identity> = claimIdentity({
    target,
    client: createDeviceClaimClient(target),
    facts: readDeviceFacts(root, arch),
    agentVersion: "0.8.0-smoke",
    log,
    clock: createSystemClock(),
    announce: (code) => codes.push(code),
    signal: abort.signal,
    maxRetryMs: 500,
  });
  done.catch(() => {}); // aborted at the end of a check
  return { codes, log, done, stop: () => abort.abort() };
}

async function refusal(p: Promise<unknown>): Promise<ConnectError> {
  try {
    await p;
  } catch (e) {
    return ConnectError.from(e);
  }
  throw new Error("expected a refusal, got an answer");
}

async function claimFlow(t: PassContext, s: SmokeHub) {
  const { hub } = s;
  const pnctl = async (...argv: string[]) => {
    const r = await cliFor(() => hub)(...argv);
    if (r.code !== 0) throw new Error(`pnctl ${argv.join(" ")} -> ${r.code}: ${r.err}`);
    return r.out;
  };
  await s.provision.createTemplate({ name: "bare-metal", modules: [] });
  const dev = runDevice(hub, deviceRoot(1, true), "arm64");
  t.defer(dev.stop);
  const code = await t.step("device reports its facts and announces a claim code", () =>
    waitFor("a claim code", () => dev.codes[0], { timeoutMs: 10_000 }),
  );
  t.info(`claim code ${code}`);

  await t.check(
    "pnctl claims ls -> the device pending with its code, MAC, serial and rpi4 hint",
    async () => {
      const rows = JSON.parse(await pnctl("claims", "ls", "--json")) as Array<Record<string, unknown>>;
      const row = rows.find((r) => r.claimCode === code);
      if (!row) throw new Error(`code ${code} not listed: ${JSON.stringify(rows)}`);
      const macs = row.macs as string[];
      if (row.status !== "pending" || macs[0] !== "dc:a6:32:00:00:01" || row.platformHint !== "rpi4")
        throw new Error(JSON.stringify(row));
      if (row.serial !== "10000000deadbe01" || row.cpus !== 4 || row.memoryMib !== 3793)
        throw new Error(`facts ${JSON.stringify(row)}`);
      return `${row.status}, ${macs[0]}, serial ${row.serial}, ${row.platformHint}, ${row.cpus} CPUs, ${row.memoryMib} MiB`;
    },
  );

  const confirmed = await t.step(
    "pnctl claims confirm <code> --template",
    async () =>
      JSON.parse(await pnctl("claims", "confirm", code, "--template", "bare-metal", "--json")) as {
        instance: { id: string; name: string };
      },
  );
  const instanceId = confirmed.instance.id;
  const identity = await t.step("the claim loop returns the identity", () =>
    Promise.race([dev.done, Bun.sleep(20_000).then(() => Promise.reject(new Error("no identity in 20 s")))]),
  );
  await t.check(
    "claimed: bootstrap token >= 32 chars, the confirmed instance's uuid, the hub's node URL",
    () => {
      if (identity.bootstrapToken.length < 32)
        throw new Error(`token of ${identity.bootstrapToken.length} chars`);
      if (identity.instanceUuid !== instanceId) throw new Error(`${identity.instanceUuid} != ${instanceId}`);
      if (identity.platformUrl !== hub.nodeUrl) throw new Error(`platform url ${identity.platformUrl}`);
      return `token ${identity.bootstrapToken.length} chars, instance ${identity.instanceUuid} (${confirmed.instance.name})`;
    },
  );
  await t.check("device and instance bound both ways", async () => {
    const [d] = await hub.deps.db.select().from(physicalDevices).where(eq(physicalDevices.claimCode, code));
    const [i] = await hub.deps.db.select().from(instances).where(eq(instances.id, instanceId));
    if (d?.status !== "claimed" || d.instanceId !== instanceId || !d.decidedAt)
      throw new Error(JSON.stringify(d));
    if (i?.providerInfo.claim_code !== code || i.providerInfo.mac !== "dc:a6:32:00:00:01")
      throw new Error(`instance provider info ${JSON.stringify(i?.providerInfo)}`);
    return `device ${d.id} -> instance ${i.id} (claim_code ${i.providerInfo.claim_code}, mac ${i.providerInfo.mac})`;
  });
  await t.check("the node enrolls with the token and heartbeats", async () => {
    // In process the node reaches the hub at its loopback URL, not the QEMU-side node URL.
    const session = await startAgentSession({
      identity: { ...identity, platformUrl: hub.mtlsUrl },
      stateDir: mkdtempSync(join(tmpdir(), "pass8-state-")),
      log: createMemoryLog(),
      backoff: { initialMs: 100, maxMs: 500 },
    });
    t.defer(() => session.stop());
    await session.waitFor("an acked heartbeat", (s) => s.heartbeatsAcked() > 0, 20_000);
    const cn = session.certificatePem() ? "certificate issued" : "no certificate";
    return `${cn}, ${session.heartbeatsAcked()} heartbeat(s) acked`;
  });
  await t.check("events system.physical_device.discovered and .claimed", async () => {
    const rows = await hub.deps.db.select({ kind: fleetEvents.kind }).from(fleetEvents);
    const kinds = new Set(rows.map((r) => r.kind));
    for (const k of [EVENTS.physicalDeviceDiscovered.kind, EVENTS.physicalDeviceClaimed.kind])
      if (!kinds.has(k)) throw new Error(`no ${k}`);
    return "both recorded";
  });

  await t.check("reject: the device hears it was rejected, and may not ask again", async () => {
    const other = runDevice(hub, deviceRoot(2, false), "amd64");
    try {
      const c = await waitFor("a second code", () => other.codes[0], { timeoutMs: 10_000 });
      await pnctl("claims", "reject", c, "--reason", "not ours");
      await waitFor(
        "the rejection logged",
        () => other.log.lines.find((l) => l.includes(`${c} was rejected (not ours)`)),
        {
          timeoutMs: 10_000,
        },
      );
      await waitFor(
        "the next discovery refused",
        () =>
          other.log.lines.find(
            (l) => l.includes("[PermissionDenied]") && l.includes("was rejected by an operator"),
          ),
        { timeoutMs: 10_000 },
      );
      if (other.codes.length !== 1) throw new Error(`codes ${other.codes.join(", ")}`);
      const ls = JSON.parse(await pnctl("claims", "ls", "--json")) as Array<{ claimCode: string }>;
      if (ls.some((r) => r.claimCode === c)) throw new Error("still listed as pending");
      return `${c} rejected; rediscovery refused (permission_denied)`;
    } finally {
      other.stop();
    }
  });
}

async function expiryAndLimits(t: PassContext) {
  const s = await t.step("start a hub with a 2 s claim TTL and a discovery burst of 12", () =>
    startSmokeHub(t, { claims: { ...DEFAULT_CLAIMS, ttlSeconds: 2, pollSeconds: 1, discoverBurst: 12 } }),
  );
  const hub = s.hub;
  await t.check(
    "expiry: the device asks again with a new code; the old one cannot be confirmed",
    async () => {
      const dev = runDevice(hub, deviceRoot(3, false), "amd64");
      try {
        await waitFor("a second code after expiry", () => dev.codes.length >= 2, { timeoutMs: 10_000 });
        const [first, second] = dev.codes;
        if (first === second) throw new Error("the same code twice");
        const r = await cliFor(() => hub)("claims", "confirm", first ?? "");
        if (r.code === 0 || !r.err.includes("expired at"))
          throw new Error(`confirm of ${first}: ${r.code} ${r.err}`);
        return `${first} expired -> ${second}; confirm refused (${r.err.trim()})`;
      } finally {
        dev.stop();
      }
    },
  );
  const client = createDeviceClaimClient({ url: hub.mtlsUrl, caPem: hub.caPem });
  const facts = (over: Record<string, unknown> = {}) => ({
    ...readDeviceFacts(deviceRoot(9, false), "amd64"),
    arch: Arch.AMD64,
    agentVersion: "smoke",
    ...over,
  });
  await t.check("bad facts are refused naming the field", async () => {
    const out: string[] = [];
    for (const [over, field] of [
      [{ macs: ["zz:zz"] }, "facts.macs[0]"],
      [{ macs: [] }, "facts.macs"],
      [{ dmiUuid: "nope" }, "facts.dmi_uuid"],
      [{ arch: Arch.UNSPECIFIED }, "facts.arch"],
      [{ cpus: 0 }, "facts.cpus"],
    ] as const) {
      const e = await refusal(client.discoverDevice({ facts: facts(over) }, { timeoutMs: 10_000 }));
      if (e.code !== Code.InvalidArgument || !e.rawMessage.startsWith(`${field}:`))
        throw new Error(`${field}: ${Code[e.code]} ${e.rawMessage}`);
      out.push(field);
    }
    return out.join(", ");
  });
  await t.check("discoveries past the per-source burst -> resource_exhausted naming the source", async () => {
    let accepted = 0;
    for (let i = 0; i < 20; i++) {
      try {
        await client.discoverDevice({ facts: facts() }, { timeoutMs: 10_000 });
        accepted++;
      } catch (e) {
        const c = ConnectError.from(e);
        if (c.code !== Code.ResourceExhausted || !c.rawMessage.includes("127.0.0.1"))
          throw new Error(`${Code[c.code]} ${c.rawMessage}`);
        return `refused after ${accepted} more: ${c.rawMessage}`;
      }
    }
    throw new Error("20 discoveries accepted");
  });
  await t.check("a poll with a wrong secret -> not_found", async () => {
    const e = await refusal(
      client.pollClaim({ deviceId: crypto.randomUUID(), pollSecret: "pnc_wrong" }, { timeoutMs: 10_000 }),
    );
    if (e.code !== Code.NotFound) throw new Error(`${Code[e.code]} ${e.rawMessage}`);
    return e.rawMessage;
  });
}

async function netbootSingle(t: PassContext) {
  if (t.args.arch !== "amd64") {
    await t.check("netboot (amd64 only here)", () => {
      throw new Error("the iPXE netboot check runs on amd64; arm64 netboot under QEMU is not built");
    });
    return;
  }
  await t.step("build (or reuse) the amd64 node image", () =>
    buildImage({ arch: "amd64", log: (l) => t.info(`build: ${l}`) }),
  );
  const s = await t.step("start a hub for netboot (claim polls every 2 s)", () =>
    startSmokeHub(t, { claims: { ...DEFAULT_CLAIMS, pollSeconds: 2 } }),
  );
  const serial = join(t.outDir, "ipxe-node.serial.log");
  t.keepOnFailure("netboot node serial log", serial);
  // As the QEMU provider decides: KVM only when a probe VM starts with it (nested hosts may refuse MSRs).
  const { accel, reason } = await detectAccel(createQemuExec(), "amd64");
  const bootfile = `${s.hub.nodeHttpUrl}/boot/ipxe`;
  const dmiUuid = crypto.randomUUID();
  const argv = [
    ...q35Argv(accel, serial),
    "-netdev",
    `user,id=n0,bootfile=${bootfile}`,
    "-device",
    "virtio-net-pci,netdev=n0,mac=52:54:00:08:08:08",
    "-boot",
    "n",
    "-uuid",
    dmiUuid,
  ];
  t.info(`qemu (${accel}: ${reason}), no -kernel, boot file ${bootfile}`);
  const started = Date.now();
  const vm = Bun.spawn(argv, { stdout: "ignore", stderr: "pipe" });
  t.defer(() => {
    vm.kill();
  });
  const log = () => {
    try {
      return readFileSync(serial, "utf8");
    } catch {
      return "";
    }
  };
  const code = await t.step("the netbooted node prints a claim code on its console", () =>
    waitFor(
      `a claim code in ${serial}`,
      () => {
        if (vm.exitCode !== null) throw new Error(`qemu exited ${vm.exitCode}`);
        return /claim code: ([2-9A-Z]{4}-[2-9A-Z]{4})/.exec(log())?.[1];
      },
      { timeoutMs: accel === "kvm" ? 120_000 : 300_000, intervalMs: 500 },
    ),
  );
  const codeSeconds = (Date.now() - started) / 1000;
  await t.check("it booted the hub's kernel over iPXE into claim mode, facts from QEMU's DMI", async () => {
    const rows = (await s.hub.deps.db.select().from(physicalDevices)).filter((r) => r.claimCode === code);
    const f = rows[0]?.facts;
    if (!f?.macs.includes("52:54:00:08:08:08")) throw new Error(`facts ${JSON.stringify(f)}`);
    if (f.platformHint !== "qemu" || f.dmiUuid !== dmiUuid) throw new Error(`facts ${JSON.stringify(f)}`);
    return `code ${code} after ${codeSeconds.toFixed(1)} s; ${f.macs[0]}, DMI ${f.dmiUuid}, ${f.platformHint}, ${f.cpus} CPU, ${f.memoryMib} MiB`;
  });
  const r = await cliFor(() => s.hub)("claims", "confirm", code, "--name", "ipxe-node", "--json");
  if (r.code !== 0) throw new Error(`pnctl claims confirm: ${r.err}`);
  const id = (JSON.parse(r.out) as { instance: { id: string } }).instance.id;
  await t.check("confirmed with pnctl: the node enrolls and heartbeats (RUNNING)", async () => {
    const n = await waitFor(
      `instance ${id} RUNNING (serial log ${serial})`,
      async () => {
        const node = (await s.fleet.getNode({ id })).node;
        return node?.state === NodeState.RUNNING ? node : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 500 },
    );
    return `${n.id} running ${((Date.now() - started) / 1000).toFixed(1)} s after QEMU started`;
  });
  vm.kill();
  await vm.exited;
  await efiImageNodes(t, s, accel);
  await rpiVirtNode(t, s);
  await arm64EfiNode(t, s);
}

export const pass8 = definePass({
  id: 8,
  title: "claim mode: unknown hardware reports, an operator confirms, the node enrolls",
  minTier: "db",
  async run(t) {
    const s = await t.step("start a hub (in-memory PGlite, 1 s claim polls)", () =>
      startSmokeHub(t, { claims: { ...DEFAULT_CLAIMS, pollSeconds: 1 } }),
    );
    await claimFlow(t, s);
    await expiryAndLimits(t);
    await diskImageWebhookChecks(t, s);
    if (tierAtLeast(t.args.tier, "single")) await netbootSingle(t);
  },
});

if (import.meta.main) await runPass(pass8);
