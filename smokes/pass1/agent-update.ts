/**
 * Pass 1 single, agent self-update on the booted QEMU node: a new agent build is compiled, published
 * to the hub registry and assigned; the node must report it with the same boot id, as PID 1, without
 * re-enrolling. Then a build that exits at start is assigned: the node must refuse it (its preflight)
 * and stay on the build it runs, and the hub must record `system.agent.update_failed`.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Arch } from "@powernode/proto";
import { pushAgentBuild } from "../../hub/src/agent-builds/publish.ts";
import { compileAgentBuild } from "../../initramfs/index.ts";
import { nodeEvents } from "../lib/events.ts";
import type { PassContext } from "../lib/pass.ts";
import type { SingleNode } from "../lib/single-node.ts";
import { waitFor } from "../lib/wait.ts";

/** TCG: download ~110 MB over user-mode networking, a preflight and a restart of every controller. */
const UPDATE_TIMEOUT_MS = { amd64: 240_000, arm64: 420_000 } as const;

export async function agentUpdateChecks(
  t: PassContext,
  node: SingleNode,
  arch: "amd64" | "arm64",
): Promise<void> {
  const { fleet, agents, hub } = node.hub;
  const id = node.instanceId;
  const dir = mkdtempSync(join(tmpdir(), "pn-agent-builds-"));
  t.defer(() => rmSync(dir, { recursive: true, force: true }));
  const before = await waitFor(
    "the node's agent report (pid) on the hub",
    async () => {
      const [n, a] = await Promise.all([fleet.getNode({ id }), agents.getNodeAgent({ nodeId: id })]);
      return n.node && a.agent?.pid ? { node: n.node, agent: a.agent } : undefined;
    },
    { timeoutMs: 60_000 },
  );
  const running = before.node.agentVersion;
  const next = `${running}.next`;
  const broken = `${running}.broken`;
  const protoArch = arch === "arm64" ? Arch.ARM64 : Arch.AMD64;

  const publish = async (version: string, entry?: string) => {
    const binary = await compileAgentBuild({ arch, version, outDir: join(dir, version), entry });
    const pushed = await pushAgentBuild({
      hubUrl: hub.httpUrl,
      token: hub.adminToken,
      hubCa: hub.operatorTls ? hub.caPem : undefined,
      binary,
      version,
      arch,
    });
    await agents.registerAgentBuild({ version, arch: protoArch, manifestDigest: pushed.manifestDigest });
    return pushed;
  };
  const built = await t.step(
    `compile and publish agent ${next} and a build that exits at start`,
    async () => ({
      next: await publish(next),
      broken: await publish(broken, join(import.meta.dir, "agent-exits-at-start.ts")),
    }),
  );
  t.info(
    `agent builds: ${next} ${(built.next.size / 2 ** 20).toFixed(1)} MiB, ${broken} ${(built.broken.size / 2 ** 20).toFixed(1)} MiB`,
  );

  await t.check(`the node re-executes into ${next}: same boot id, PID 1, no second enrollment`, async () => {
    const t0 = performance.now();
    await agents.setNodeAgent({ nodeId: id, version: next });
    const after = await waitFor(
      `node ${id} reporting agent ${next} (serial log ${node.serialLog})`,
      async () => {
        const n = (await fleet.getNode({ id })).node;
        return n?.agentVersion === next ? n : undefined;
      },
      { timeoutMs: UPDATE_TIMEOUT_MS[arch], intervalMs: 500 },
    );
    const seconds = (performance.now() - t0) / 1000;
    const a = (await agents.getNodeAgent({ nodeId: id })).agent;
    if (after.bootId !== before.node.bootId)
      throw new Error(`boot id changed: ${before.node.bootId} -> ${after.bootId}`);
    if (a?.pid !== 1) throw new Error(`the new agent reports pid ${a?.pid}, not 1`);
    if (after.uptimeSeconds < before.node.uptimeSeconds)
      throw new Error("uptime went back: the node rebooted");
    // Enroll issues a new certificate: the same serial means the new agent used the saved one.
    if (after.certificateSerial !== before.node.certificateSerial)
      throw new Error(
        `enrolled again: certificate ${before.node.certificateSerial} -> ${after.certificateSerial}`,
      );
    const events = await nodeEvents(fleet, id);
    if (!events.some((e) => e.kind === "system.agent.updated"))
      throw new Error("no system.agent.updated event");
    return `${running} -> ${next} in ${seconds.toFixed(1)} s (assign to first heartbeat of the new build), boot id ${after.bootId.slice(0, 8)}, pid ${a.pid}, certificate ${after.certificateSerial.slice(0, 12)} kept, uptime ${before.node.uptimeSeconds.toFixed(0)} -> ${after.uptimeSeconds.toFixed(0)} s`;
  });

  await t.check(`a build that exits at start is refused; the node stays on ${next}`, async () => {
    const t0 = performance.now();
    await agents.setNodeAgent({ nodeId: id, version: broken });
    const a = await waitFor(
      `node ${id} reporting ${broken} refused (serial log ${node.serialLog})`,
      async () => {
        const x = (await agents.getNodeAgent({ nodeId: id })).agent;
        return x?.lastFailedVersion === broken ? x : undefined;
      },
      { timeoutMs: UPDATE_TIMEOUT_MS[arch], intervalMs: 500 },
    );
    const seconds = (performance.now() - t0) / 1000;
    if (!a.lastFailedReason.startsWith("preflight: exited with code 70"))
      throw new Error(`unexpected reason: ${a.lastFailedReason}`);
    const events = (await nodeEvents(fleet, id)).filter((e) => e.kind === "system.agent.update_failed");
    if (events.length !== 1) throw new Error(`${events.length} system.agent.update_failed events, want 1`);
    const beatAt = (await fleet.getNode({ id })).node?.lastHeartbeatAt?.seconds ?? 0n;
    const n = await waitFor(
      "a later heartbeat from the node",
      async () => {
        const x = (await fleet.getNode({ id })).node;
        return x && (x.lastHeartbeatAt?.seconds ?? 0n) > beatAt ? x : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 500 },
    );
    if (n.agentVersion !== next || n.bootId !== before.node.bootId)
      throw new Error(`node now runs ${n.agentVersion} (boot ${n.bootId})`);
    return `refused in ${seconds.toFixed(1)} s: "${a.lastFailedReason.slice(0, 90)}"; still ${n.agentVersion}, same boot, heartbeating`;
  });
}
