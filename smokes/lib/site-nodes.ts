/**
 * Several real QEMU nodes on one lab network against an in-process hub: the site tier. The nodes share an
 * L2 segment (the lab's bridge), get their addresses from the lab's udhcpd and reach the hub at the
 * lab's host end. Beside `single-node.ts`, which boots one node on QEMU user networking.
 */
import { join } from "node:path";
import type { StartHubOptions } from "@powernode/hub";
import { EVENTS, NodeState } from "@powernode/proto";
import { macFor, type QemuProviderOptions } from "../../hub/src/providers/qemu/index.ts";
import { buildImage } from "../../initramfs/index.ts";
import { nodeEvents } from "./events.ts";
import { type SmokeHub, startSmokeHub } from "./hub.ts";
import { createLab, type Lab } from "./lab.ts";
import type { PassContext } from "./pass.ts";
import { smokeQemuProvider } from "./single-node.ts";
import { waitFor } from "./wait.ts";

/** One node of the site. */
export interface SiteNode {
  instanceId: string;
  /** The instance name (the requested name plus a run stamp). */
  name: string;
  serialLog: string;
  /** The NIC's MAC (`macFor(instanceId)`), the key of its DHCP lease. */
  mac: string;
  /**
   * The node's address on the lab network (no prefix): from its `system.network.up` report on the hub,
   * else from the lab's udhcpd lease for its MAC; "" when neither has it.
   */
  underlayAddress: string;
}

/** What {@link bootSiteNodes} started. */
export interface SiteNodes {
  hub: SmokeHub;
  lab: Lab;
  nodes: SiteNode[];
  /** Seconds from the first CreateInstance to the last node RUNNING on the hub. */
  secondsToRunning: number;
}

/** Options of {@link bootSiteNodes}. */
export interface SiteNodesOptions {
  arch: "amd64" | "arm64";
  count: number;
  /** Node names (default `site-1` .. `site-<count>`); each gets a run stamp appended. */
  names?: readonly string[];
  /** Hub options (e.g. `heartbeatSeconds`); the QEMU provider and the lab's node host are always set. */
  hub?: Omit<StartHubOptions, "providers" | "nodeHost">;
  /** The lab's name and index (default `site`, 1: 10.203.1.0/24); a lab of that name left over is removed. */
  lab?: { name?: string; index?: number };
  /** Per node; default 1024 MiB. */
  memoryMib?: number;
  /** Per node; default 1 (TCG runs a host thread per vCPU, and the nodes share the host's cores). */
  vcpus?: number;
  /** QEMU provider options for every node (debug kernel args, extra QEMU args). */
  provider?: Pick<QemuProviderOptions, "kernelArgs" | "extraArgs">;
  /** Runs once hub and lab are up, before the nodes are created (publish modules, create templates). */
  beforeCreate?: (hub: SmokeHub, lab: Lab) => Promise<void>;
  /** Create every node from this template. */
  template?: string;
  /** Names of the nodes created persistent (a /persist disk that survives reboots). */
  persistent?: readonly string[];
}

/** Generous, per node under TCG on 2 shared cores: the wait grows with the number of nodes. */
const ENROLL_TIMEOUT_MS = { amd64: 180_000, arm64: 300_000 } as const;

/** The address a node reported with `system.network.up` ("10.203.1.38/24" -> "10.203.1.38"). */
async function reportedAddress(hub: SmokeHub, id: string): Promise<string | undefined> {
  const up = (await nodeEvents(hub.fleet, id)).find((e) => e.kind === EVENTS.networkUp.kind);
  const address = up?.payload?.address;
  return typeof address === "string" && address !== "" ? (address.split("/")[0] ?? "") : undefined;
}

/**
 * Boots `count` QEMU nodes on a lab network: image built or reused, lab created, hub started with the
 * QEMU provider and node URLs on the lab's host end, every node created at once (`network: lab.network`)
 * and waited for until RUNNING. VMs, hub and lab are removed when the pass ends; serial logs and the
 * lab's udhcpd log are kept on failure.
 */
export async function bootSiteNodes(t: PassContext, opts: SiteNodesOptions): Promise<SiteNodes> {
  if (!Number.isInteger(opts.count) || opts.count < 1) throw new Error(`count ${opts.count}: need >= 1`);
  const names = opts.names ?? Array.from({ length: opts.count }, (_, i) => `site-${i + 1}`);
  if (names.length !== opts.count) throw new Error(`names: ${names.length} given for count ${opts.count}`);

  const image = await t.step(`image for ${opts.arch} built or reused`, () =>
    buildImage({ arch: opts.arch, log: (l) => t.info(`build: ${l}`) }),
  );
  t.info(`image ${image.reused ? "reused" : "built"}`);

  const lab = await t.step("create the lab network", () =>
    createLab({
      name: opts.lab?.name ?? "site",
      index: opts.lab?.index ?? 1,
      dir: join(t.outDir, "lab"),
      log: (l) => t.info(l),
    }),
  );
  t.defer(() => lab.stop());
  t.keepOnFailure("udhcpd log", join(lab.dir, "udhcpd.log"));
  t.info(
    `lab ${lab.netns}: bridge ${lab.bridge} ${lab.bridgeAddress}, host end ${lab.hostInterface} ${lab.hostAddress}, ${lab.cidr}`,
  );

  const { provider } = smokeQemuProvider(t, opts.provider);
  const hub = await t.step("start a hub with the QEMU provider, nodes on the lab's host end", () =>
    startSmokeHub(t, { ...opts.hub, providers: [provider], nodeHost: lab.hostAddress }),
  );
  await opts.beforeCreate?.(hub, lab);

  const stamp = Date.now().toString(36);
  const started = performance.now();
  const created = await t.step(`CreateInstance x${opts.count} (qemu, ${lab.network}) at once`, () =>
    Promise.all(
      names.map(async (name) => {
        const res = await hub.provision.createInstance({
          name: `${name}-${stamp}`,
          arch: opts.arch === "arm64" ? 2 : 1,
          provider: "qemu",
          memoryMib: opts.memoryMib ?? 1024,
          vcpus: opts.vcpus ?? 1,
          network: lab.network,
          persistent: opts.persistent?.includes(name) ?? false,
          start: true,
          ...(opts.template ? { template: opts.template } : {}),
        });
        const instance = res.instance;
        if (!instance) throw new Error(`CreateInstance ${name}: no instance returned`);
        const id = instance.id;
        t.defer(async () => {
          // Whatever happened, no VM outlives the pass.
          await hub.provision.deleteInstance({ id }).catch(() => undefined);
        });
        const serialLog = instance.providerInfo.serialLog ?? join(t.outDir, "serial", `${instance.name}.log`);
        t.keepOnFailure(`serial log ${instance.name}`, serialLog);
        return { instanceId: id, name: instance.name, serialLog, mac: macFor(id) };
      }),
    ),
  );

  const timeoutMs = ENROLL_TIMEOUT_MS[opts.arch] * Math.max(1, opts.count / 2);
  await t.step(`${opts.count} nodes enroll and heartbeat (RUNNING)`, () =>
    Promise.all(
      created.map((n) =>
        waitFor(
          `instance ${n.name} (${n.instanceId}) RUNNING (serial log ${n.serialLog})`,
          async () => (await hub.fleet.getNode({ id: n.instanceId })).node?.state === NodeState.RUNNING,
          { timeoutMs, intervalMs: 500 },
        ),
      ),
    ),
  );
  const secondsToRunning = (performance.now() - started) / 1000;
  t.info(`${opts.count} nodes RUNNING ${secondsToRunning.toFixed(1)} s after the first CreateInstance`);

  const leases = lab.leases();
  const nodes: SiteNode[] = await Promise.all(
    created.map(async (n) => ({
      ...n,
      underlayAddress:
        (await reportedAddress(hub, n.instanceId)) ?? leases.find((l) => l.mac === n.mac)?.address ?? "",
    })),
  );
  for (const n of nodes) t.info(`  ${n.name}: ${n.underlayAddress || "?"} (${n.mac}), serial ${n.serialLog}`);
  return { hub, lab, nodes, secondsToRunning };
}
