/**
 * Boot benchmark: boots N nodes per arch one after another under the hub's QEMU provider and prints the
 * median of each phase from the agent's own CLOCK_BOOTTIME timestamps, the QEMU-start -> enrolled time,
 * the image sizes, and the agent's resident memory after it has run for a while.
 *
 *   bun bench/boot.ts [--arch amd64,arm64] [--runs 5] [--rss-after 60] [--vcpus 2]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startHub } from "../hub/src/index.ts";
import { createQemuProvider } from "../hub/src/providers/qemu/index.ts";
import { buildImage } from "../initramfs/index.ts";
import { NodeState } from "../proto/src/index.ts";
import { agentPhases, nodeEvents } from "../smokes/lib/events.ts";
import { operatorClients } from "../smokes/lib/hub.ts";
import { waitFor } from "../smokes/lib/wait.ts";

type Arch = "amd64" | "arm64";

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}

const arches = option("--arch", "amd64,arm64").split(",") as Arch[];
const runs = Number(option("--runs", "5"));
const rssAfter = Number(option("--rss-after", "60"));
const vcpus = Number(option("--vcpus", "2"));

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length === 0
    ? Number.NaN
    : s.length % 2
      ? (s[m] as number)
      : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

const PHASES: Array<[string, string]> = [
  ["kernel start -> agent start", "system.kernel.booted"],
  ["-> agent started", "system.agent.started"],
  ["-> network up", "system.network.up"],
  ["-> enrolled", "system.agent.enrolled"],
  ["-> first heartbeat", "system.heartbeat.received"],
];

async function benchArch(arch: Arch): Promise<void> {
  const image = await buildImage({ arch, log: () => {} });
  const a = image.manifest.artifacts;
  console.log(
    `\n== ${arch}: image ${(a["initramfs.cpio.zst"].size / 2 ** 20).toFixed(1)} MiB compressed, ` +
      `${(a.uncompressedCpio.size / 2 ** 20).toFixed(1)} MiB uncompressed, kernel ${(a.kernel.size / 2 ** 20).toFixed(1)} MiB`,
  );
  const qemuDir = mkdtempSync(join(tmpdir(), "pn-bench-"));
  const hub = await startHub({ providers: [createQemuProvider({ stateDir: qemuDir })] });
  const ops = operatorClients(hub.httpUrl, hub.adminToken);
  const samples: Record<string, number[]> = {};
  const enrolled: number[] = [];
  let rss: number | undefined;
  try {
    for (let r = 0; r < runs; r++) {
      const t0 = performance.now();
      const created = await ops.provision.createInstance({
        name: `bench-${arch}-${r}`,
        arch: arch === "arm64" ? 2 : 1,
        provider: "qemu",
        vcpus,
        start: true,
      });
      const id = created.instance?.id ?? "";
      await waitFor(
        `${arch} run ${r} RUNNING`,
        async () => (await ops.fleet.getNode({ id })).node?.state === NodeState.RUNNING,
        {
          timeoutMs: 300_000,
          intervalMs: 100,
        },
      );
      enrolled.push((performance.now() - t0) / 1000);
      const phases = await waitFor(
        "agent phases",
        async () => {
          const p = agentPhases(await nodeEvents(ops.fleet, id));
          return p.some((x) => x.kind === "system.heartbeat.received") ? p : undefined;
        },
        { timeoutMs: 30_000 },
      );
      for (const [, kind] of PHASES) {
        const at = phases.find((p) => p.kind === kind)?.uptime;
        if (at !== undefined) samples[kind] = [...(samples[kind] ?? []), at];
      }
      const line = PHASES.map(([, k]) => phases.find((p) => p.kind === k)?.uptime.toFixed(2) ?? "?").join(
        "  ",
      );
      console.log(
        `run ${r + 1}/${runs}: phases at ${line} s; QEMU start -> RUNNING ${enrolled.at(-1)?.toFixed(2)} s`,
      );
      if (r === runs - 1 && rssAfter > 0) {
        const bootAt = Date.now();
        await Bun.sleep(rssAfter * 1000);
        const n = (await ops.fleet.getNode({ id })).node;
        rss = n ? Number(n.agentRssBytes) : undefined;
        console.log(
          `agent RSS after ${((Date.now() - bootAt) / 1000).toFixed(0)} s running: ${rss ? (rss / 2 ** 20).toFixed(1) : "?"} MiB`,
        );
      }
      await ops.provision.deleteInstance({ id });
    }
  } finally {
    await hub.stop();
    rmSync(qemuDir, { recursive: true, force: true });
  }
  console.log(`medians over ${runs} boots (${arch}, TCG unless KVM works; seconds since kernel start):`);
  for (const [label, kind] of PHASES)
    console.log(`  ${label.padEnd(30)} ${median(samples[kind] ?? []).toFixed(2)}`);
  console.log(`  QEMU start -> RUNNING on hub    ${median(enrolled).toFixed(2)}`);
}

for (const arch of arches) await benchArch(arch);
