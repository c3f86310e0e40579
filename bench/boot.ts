/**
 * Boot benchmark and boot reliability: boots nodes per arch under the hub's QEMU provider and reports
 * how many reached RUNNING, the failures with the last phase each node reported and where its serial
 * log and the hub log are kept, p50/p95/max of QEMU start -> RUNNING, the median of each phase from the
 * agent's own CLOCK_BOOTTIME timestamps, the image sizes, and the agent's resident memory after a while.
 *
 *   bun bench/boot.ts [--arch amd64,arm64] [--runs 5] [--parallel 1] [--rss-after 60] [--vcpus 2]
 *                     [--timeout SECONDS] [--cpu MODEL]
 *
 * `--parallel 3` keeps three boots in flight (a new one starts when one ends). Phase medians are
 * meaningful with `--parallel 1` only (parallel boots share the host's cores under TCG). Every run
 * writes under bench/out/boot-<stamp>/: the hub log (JSON lines) and every node's serial log; the paths
 * of failed boots are printed. A failed boot never stops the run.
 */
import { appendFileSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger, startHub } from "../hub/src/index.ts";
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
const parallel = Math.max(1, Number(option("--parallel", "1")));
const rssAfter = Number(option("--rss-after", "60"));
const vcpus = Number(option("--vcpus", "2"));
const timeoutOption = option("--timeout", "");
/** CPU model under TCG for the benched arches (default: the provider's). */
const tcgCpu = option("--cpu", "");

const quantile = (xs: number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))] as number;
};
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  if (s.length === 0) return Number.NaN;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

const PHASES: Array<[string, string]> = [
  ["kernel start -> agent start", "system.kernel.booted"],
  ["-> agent started", "system.agent.started"],
  ["-> network up", "system.network.up"],
  ["-> enrolled", "system.agent.enrolled"],
  ["-> first heartbeat", "system.heartbeat.received"],
];

interface Boot {
  run: number;
  ok: boolean;
  seconds: number;
  /** The last agent phase the hub has for the node ("none" when it reported nothing). */
  lastPhase: string;
  serialLog: string;
  error?: string;
  phases: Record<string, number>;
}

async function benchArch(arch: Arch, outDir: string): Promise<void> {
  const image = await buildImage({ arch, log: () => {} });
  const a = image.manifest.artifacts;
  console.log(
    `\n== ${arch}: image ${(a["initramfs.cpio.zst"].size / 2 ** 20).toFixed(1)} MiB compressed, ` +
      `${(a.uncompressedCpio.size / 2 ** 20).toFixed(1)} MiB uncompressed, kernel ${(a.kernel.size / 2 ** 20).toFixed(1)} MiB; ` +
      `${runs} boots, ${parallel} at a time, ${vcpus} vCPU each`,
  );
  const qemuDir = mkdtempSync(join(tmpdir(), "pn-bench-"));
  const hubLog = join(outDir, `hub-${arch}.log`);
  const serialDir = join(outDir, `serial-${arch}`);
  const hub = await startHub({
    providers: [
      createQemuProvider({
        stateDir: qemuDir,
        serialLogDir: serialDir,
        ...(tcgCpu ? { tcgCpu: { [arch]: tcgCpu } } : {}),
      }),
    ],
    log: createLogger({ level: "info", sink: (line) => appendFileSync(hubLog, `${line}\n`) }),
  });
  const ops = operatorClients(hub.httpUrl, hub.adminToken);
  const timeoutMs = (timeoutOption ? Number(timeoutOption) : arch === "arm64" ? 300 : 180) * 1000;
  const boots: Boot[] = [];
  let rss: number | undefined;

  async function boot(r: number, last: boolean): Promise<Boot> {
    const t0 = performance.now();
    const created = await ops.provision.createInstance({
      name: `bench-${arch}-${r}`,
      arch: arch === "arm64" ? 2 : 1,
      provider: "qemu",
      vcpus,
      start: true,
    });
    const id = created.instance?.id ?? "";
    const serialLog = created.instance?.providerInfo.serialLog ?? join(serialDir, `bench-${arch}-${r}.log`);
    const phasesOf = async () => agentPhases(await nodeEvents(ops.fleet, id).catch(() => []));
    try {
      await waitFor(
        `${arch} run ${r} RUNNING`,
        async () => (await ops.fleet.getNode({ id })).node?.state === NodeState.RUNNING,
        { timeoutMs, intervalMs: 100 },
      );
      const seconds = (performance.now() - t0) / 1000;
      const phases = await waitFor(
        "agent phases",
        async () => {
          const p = await phasesOf();
          return p.some((x) => x.kind === "system.heartbeat.received") ? p : undefined;
        },
        { timeoutMs: 30_000 },
      );
      const at: Record<string, number> = {};
      for (const [, kind] of PHASES) {
        const u = phases.find((p) => p.kind === kind)?.uptime;
        if (u !== undefined) at[kind] = u;
      }
      if (last && rssAfter > 0) {
        await Bun.sleep(rssAfter * 1000);
        const n = (await ops.fleet.getNode({ id })).node;
        rss = n ? Number(n.agentRssBytes) : undefined;
      }
      return { run: r, ok: true, seconds, lastPhase: "system.heartbeat.received", serialLog, phases: at };
    } catch (err) {
      const p = await phasesOf();
      return {
        run: r,
        ok: false,
        seconds: (performance.now() - t0) / 1000,
        lastPhase: p.at(-1)?.kind ?? "none",
        serialLog,
        error: err instanceof Error ? err.message : String(err),
        phases: {},
      };
    } finally {
      await ops.provision.deleteInstance({ id }).catch(() => undefined);
    }
  }

  try {
    let next = 0;
    const worker = async () => {
      for (let r = next++; r < runs; r = next++) {
        const b = await boot(r, r === runs - 1 && parallel === 1);
        boots.push(b);
        const line = PHASES.map(([, k]) => b.phases[k]?.toFixed(2) ?? "?").join("  ");
        console.log(
          b.ok
            ? `run ${r + 1}/${runs}: phases at ${line} s; QEMU start -> RUNNING ${b.seconds.toFixed(2)} s`
            : `run ${r + 1}/${runs}: FAILED after ${b.seconds.toFixed(0)} s, last phase ${b.lastPhase}: ${b.error}; serial log ${b.serialLog}`,
        );
      }
    };
    await Promise.all(Array.from({ length: Math.min(parallel, runs) }, worker));
  } finally {
    await hub.stop();
    rmSync(qemuDir, { recursive: true, force: true });
  }
  const ok = boots.filter((b) => b.ok);
  const failed = boots.filter((b) => !b.ok);
  const secs = ok.map((b) => b.seconds);
  console.log(`${arch}: ${boots.length} boots tried, ${ok.length} RUNNING, ${failed.length} failed`);
  for (const f of failed)
    console.log(`  failed run ${f.run + 1}: last phase ${f.lastPhase}; serial log ${f.serialLog}`);
  if (failed.length > 0) console.log(`  hub log: ${hubLog}`);
  console.log(
    `  QEMU start -> RUNNING: p50 ${quantile(secs, 0.5).toFixed(2)} s, p95 ${quantile(secs, 0.95).toFixed(2)} s, max ${Math.max(...secs).toFixed(2)} s`,
  );
  console.log(
    `  phase medians (seconds since kernel start${parallel > 1 ? `; ${parallel} boots at a time share the cores` : ""}):`,
  );
  for (const [label, kind] of PHASES) {
    const xs = ok.flatMap((b) => (b.phases[kind] === undefined ? [] : [b.phases[kind] as number]));
    console.log(`    ${label.padEnd(30)} ${median(xs).toFixed(2)}`);
  }
  if (rss !== undefined)
    console.log(`  agent RSS after ${rssAfter} s running: ${(rss / 2 ** 20).toFixed(1)} MiB`);
}

const outDir = join(import.meta.dir, "out", `boot-${new Date().toISOString().replace(/[:.]/g, "-")}`);
mkdirSync(outDir, { recursive: true });
console.log(`logs: ${outDir}`);
for (const arch of arches) await benchArch(arch, outDir);
