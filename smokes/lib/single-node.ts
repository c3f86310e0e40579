/**
 * One real QEMU node booted from the image builder's output against an in-process hub: the single tier.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { StartHubOptions } from "@powernode/hub";
import { type Node, NodeState } from "@powernode/proto";
import { desc, eq } from "drizzle-orm";
import { certificates } from "../../hub/src/db/schema/index.ts";
import { createQemuProvider, type QemuProviderOptions } from "../../hub/src/providers/qemu/index.ts";
import { buildImage } from "../../initramfs/index.ts";
import { agentPhases, nodeEvents } from "./events.ts";
import { type SmokeHub, startSmokeHub } from "./hub.ts";
import type { PassContext } from "./pass.ts";
import { waitFor } from "./wait.ts";

export interface SingleNode {
  hub: SmokeHub;
  instanceId: string;
  /** The fw-cfg file the provider gave the VM its bootstrap token in. */
  tokenFile: string;
  serialLog: string;
  /** Seconds from CreateInstance to the node's first heartbeat on the hub. */
  enrollSeconds: number;
  /** Wall clock (ms since the epoch) just before CreateInstance was called. */
  createdAtMs: number;
  certificatePem(): Promise<string>;
  /** The last heartbeat's observations, once the node has sent one with them. */
  lastHeartbeat(): Promise<{ zombieCount: number; childrenRun: number; rssBytes: number } | undefined>;
  printTimings(): Promise<void>;
  /** StopInstance -> state STOPPED and QEMU gone; DeleteInstance -> instance dir removed. */
  stopAndCheck(): Promise<void>;
}

/** Generous: TCG on 2 shared cores; arm64 emulation is slower. */
const ENROLL_TIMEOUT_MS = { amd64: 180_000, arm64: 300_000 } as const;

/** What {@link bootSingleNode} boots; everything past `name` is optional and defaults to pass 1's node. */
export interface SingleNodeOptions {
  arch: "amd64" | "arm64";
  name: string;
  memoryMib?: number;
  /** QEMU provider options for the node: debug kernel args, host port forwards. */
  provider?: Pick<QemuProviderOptions, "kernelArgs" | "hostForwards" | "extraArgs">;
  /** Hub options (e.g. `heartbeatSeconds`); the QEMU provider is always added. */
  hub?: Omit<StartHubOptions, "providers">;
  /** Runs once the hub is up, before CreateInstance (publish modules, create templates). */
  beforeCreate?: (hub: SmokeHub) => Promise<void>;
  /** CreateInstance from this template (its modules are assigned at creation). */
  template?: string;
  /** A persistent instance (a /persist disk that survives reboots). */
  persistent?: boolean;
}

/**
 * The QEMU provider of a smoke: instance dirs in a short temp dir (removed at the end), serial logs in
 * the pass's out dir (kept on failure).
 */
export function smokeQemuProvider(
  t: PassContext,
  opts: Partial<QemuProviderOptions> = {},
): { qemuDir: string; provider: ReturnType<typeof createQemuProvider> } {
  // QMP sockets live in here: keep the path short (unix socket paths are limited to 107 bytes).
  const qemuDir = mkdtempSync(join(tmpdir(), "pn-qemu-"));
  t.defer(() => rmSync(qemuDir, { recursive: true, force: true }));
  const provider = createQemuProvider({ stateDir: qemuDir, serialLogDir: join(t.outDir, "serial"), ...opts });
  return { qemuDir, provider };
}

export async function bootSingleNode(t: PassContext, opts: SingleNodeOptions): Promise<SingleNode> {
  const image = await t.step(`image for ${opts.arch} built or reused`, () =>
    buildImage({ arch: opts.arch, log: (l) => t.info(`build: ${l}`) }),
  );
  t.info(
    `image ${image.reused ? "reused" : "built"}: initramfs ${(image.manifest.artifacts["initramfs.cpio.zst"].size / 2 ** 20).toFixed(1)} MiB compressed, ${(image.manifest.artifacts.uncompressedCpio.size / 2 ** 20).toFixed(1)} MiB uncompressed`,
  );
  const { qemuDir, provider } = smokeQemuProvider(t, opts.provider);
  const hub = await t.step("start a hub with the QEMU provider", () =>
    startSmokeHub(t, { ...opts.hub, providers: [provider] }),
  );
  await opts.beforeCreate?.(hub);
  const createdAtMs = Date.now();
  const started = performance.now();
  const created = await t.step("CreateInstance (qemu) starts a VM", () =>
    hub.provision.createInstance({
      name: `${opts.name}-${Date.now().toString(36)}`,
      arch: opts.arch === "arm64" ? 2 : 1,
      provider: "qemu",
      memoryMib: opts.memoryMib ?? 1024,
      vcpus: 2, // TCG runs one host thread per vCPU: Bun starts and enrolls ~2 s sooner with two
      start: true,
      persistent: opts.persistent ?? false,
      ...(opts.template ? { template: opts.template } : {}),
    }),
  );
  const instance = created.instance;
  if (!instance) throw new Error("CreateInstance returned no instance");
  const id = instance.id;
  const serialLog = instance.providerInfo.serialLog ?? join(t.outDir, "serial", `${instance.name}.log`);
  t.keepOnFailure("serial log", serialLog);
  t.info(`serial log: ${serialLog}`);
  t.defer(async () => {
    // Whatever happened, no VM outlives the pass.
    await hub.provision.deleteInstance({ id }).catch(() => undefined);
  });
  const running = await t.step(`node ${id.slice(0, 8)} enrolls and heartbeats (RUNNING)`, () =>
    waitFor(
      `instance ${id} RUNNING (serial log ${serialLog})`,
      async () => {
        const n = (await hub.fleet.getNode({ id })).node;
        return n?.state === NodeState.RUNNING ? n : undefined;
      },
      { timeoutMs: ENROLL_TIMEOUT_MS[opts.arch], intervalMs: 500 },
    ),
  );
  const enrollSeconds = (performance.now() - started) / 1000;
  t.info(`RUNNING ${enrollSeconds.toFixed(1)} s after CreateInstance (agent ${running.agentVersion})`);

  const getNode = async (): Promise<Node | undefined> => (await hub.fleet.getNode({ id })).node;
  return {
    hub,
    instanceId: id,
    tokenFile: join(qemuDir, "instances", id, "fw_cfg", "bootstrap_token"),
    serialLog,
    enrollSeconds,
    createdAtMs,
    async certificatePem() {
      const [row] = await hub.hub.deps.db
        .select({ pem: certificates.pem })
        .from(certificates)
        .where(eq(certificates.instanceId, id))
        .orderBy(desc(certificates.notBefore))
        .limit(1);
      if (!row) throw new Error(`no certificate recorded for ${id}`);
      return row.pem;
    },
    async lastHeartbeat() {
      const n = await getNode();
      if (!n || n.childrenSpawned === 0) return undefined;
      return {
        zombieCount: n.zombieCount,
        childrenRun: n.childrenSpawned,
        rssBytes: Number(n.agentRssBytes),
      };
    },
    async printTimings() {
      const phases = agentPhases(await nodeEvents(hub.fleet, id));
      const at = (k: string) => phases.find((p) => p.kind === k)?.uptime;
      const steps: Array<[string, string, string]> = [
        ["kernel start -> agent start", "system.kernel.booted", "system.agent.started"],
        ["agent start -> network", "system.agent.started", "system.network.up"],
        ["network -> enrolled", "system.network.up", "system.agent.enrolled"],
        ["enrolled -> first heartbeat", "system.agent.enrolled", "system.heartbeat.received"],
      ];
      t.info(`timings (${opts.arch}, from the agent's CLOCK_BOOTTIME; kernel start = 0):`);
      t.info(`  kernel booted (agent start) at ${at("system.kernel.booted")?.toFixed(2) ?? "?"} s`);
      for (const [label, a, b] of steps) {
        const va = at(a);
        const vb = at(b);
        t.info(
          `  ${label.padEnd(30)} ${va !== undefined && vb !== undefined ? `${(vb - va).toFixed(2)} s` : "?"}`,
        );
      }
      t.info(`  total to first heartbeat       ${at("system.heartbeat.received")?.toFixed(2) ?? "?"} s`);
      t.info(`  QEMU start -> RUNNING on hub   ${enrollSeconds.toFixed(2)} s`);
    },
    async stopAndCheck() {
      await t.check("StopInstance: state STOPPED, QEMU gone", async () => {
        const res = await hub.provision.stopInstance({ id });
        const pid = Number(res.instance?.providerInfo.pid ?? instance.providerInfo.pid);
        const n = await getNode();
        if (n?.state !== NodeState.STOPPED) throw new Error(`state ${NodeState[n?.state ?? 0]}`);
        await waitFor(`qemu pid ${pid} to exit`, () => !existsSync(`/proc/${pid}`), { timeoutMs: 15_000 });
        return `pid ${pid} exited`;
      });
      await t.check("DeleteInstance removes the instance dir", async () => {
        await hub.provision.deleteInstance({ id });
        const dir = join(qemuDir, "instances", id);
        if (existsSync(dir)) throw new Error(`${dir} still exists`);
        return "removed";
      });
    },
  };
}
