/**
 * The console smoke's hub side: a real hub (its log kept on failure), catalog rows for two modules and
 * a template of them, two nodes run by the agent session in process (pass 1's db tier) with the
 * WireGuard side faked in memory (pass 3's db tier), and an overlay network of both whose handshakes
 * the fake reports as recent, so the Network view has a mesh to draw.
 */
import { appendFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { createLogger } from "@powernode/hub";
import { type AgentSession, createMemoryLog, startAgentSession } from "@powernode/node-agent";
import { Arch, type Network, NodeState } from "@powernode/proto";
import {
  createRecordingWireguardFake,
  type RecordingWireguardFake,
} from "../../node-agent/src/sys/wireguard-fake.ts";
import { type SmokeHub, startSmokeHub } from "../lib/hub.ts";
import type { PassContext } from "../lib/pass.ts";
import { waitFor } from "../lib/wait.ts";

export const MODULES = [
  { name: "system-base", digest: "1a".repeat(32), root: "2b".repeat(32), meta: 1_200_000, blob: 48_000_000 },
  { name: "nginx-light", digest: "3c".repeat(32), root: "4d".repeat(32), meta: 90_000, blob: 2_500_000 },
];
/** Heartbeats this often, so mesh reports reach the hub quickly. */
const HEARTBEAT_SECONDS = 2;

export interface ConsoleNode {
  id: string;
  name: string;
  session: AgentSession;
  wg: RecordingWireguardFake;
}

export interface Fixture {
  s: SmokeHub;
  /** The node the views are checked on (from the template). */
  node: ConsoleNode;
  /** Its mesh peer. */
  peer: ConsoleNode;
}

async function startNode(t: PassContext, s: SmokeHub, name: string, index: number, template?: string) {
  const created = await s.provision.createInstance({
    name,
    arch: Arch.AMD64,
    provider: "none",
    start: true,
    ...(template ? { template } : {}),
  });
  const id = created.instance?.id ?? "";
  const stateDir = join(t.outDir, `agent-${index}`);
  mkdirSync(stateDir, { recursive: true });
  const wg = createRecordingWireguardFake();
  const session = await startAgentSession({
    identity: {
      instanceUuid: id,
      bootstrapToken: created.bootstrapToken,
      platformUrl: s.hub.mtlsUrl,
      caPem: s.hub.caPem,
    },
    stateDir,
    log: createMemoryLog(),
    backoff: { initialMs: 200, maxMs: 2000 },
    mesh: {
      wireguard: wg,
      keyDir: join(stateDir, "wireguard"),
      underlayAddresses: () => [`127.0.4.${10 + index}`],
    },
  });
  t.defer(() => session.stop());
  return { id, name, session, wg };
}

export async function setUp(t: PassContext): Promise<Fixture> {
  const logPath = join(t.outDir, "hub.log");
  t.keepOnFailure("hub log", logPath);
  const log = createLogger({ level: "info", sink: (line) => appendFileSync(logPath, `${line}\n`) });
  const s = await t.step("start a hub (in-memory PGlite)", () =>
    startSmokeHub(t, { log, heartbeatSeconds: HEARTBEAT_SECONDS }),
  );
  await t.step("catalog rows for system-base and nginx-light, a template of them", async () => {
    for (const m of MODULES) {
      await s.catalog.createModule({ name: m.name, description: `${m.name} (console smoke)` });
      await s.catalog.createModuleVersion({
        moduleName: m.name,
        version: "1.0.0",
        arch: Arch.AMD64,
        fsverityDigest: m.digest,
        verityRootHash: m.root,
        ociDigest: `sha256:${"0".repeat(64)}`,
        metadataSize: BigInt(m.meta),
        blobSize: BigInt(m.blob),
      });
    }
    await s.provision.createTemplate({ name: "web", modules: MODULES.map((m) => ({ name: m.name })) });
  });
  const stamp = Date.now();
  const node = await startNode(t, s, `console-${stamp}`, 1, "web");
  const peer = await startNode(t, s, `console-peer-${stamp}`, 2);
  await t.step("two agent sessions enroll, heartbeat and report their phases", async () => {
    for (const n of [node, peer]) {
      await n.session.waitFor(`${n.name}: first heartbeat ack`, (x) => x.heartbeatsAcked() > 0, 30_000);
      await waitFor(
        `${n.name} running with agent phases on the hub`,
        async () => {
          const got = (await s.fleet.getNode({ id: n.id })).node;
          const { events } = await s.fleet.listEvents({ nodeId: n.id, kindPrefix: "system.agent.started" });
          return got?.state === NodeState.RUNNING && events.length > 0;
        },
        { timeoutMs: 15_000 },
      );
    }
  });
  return { s, node, peer };
}

/**
 * An overlay network of both nodes: joined, each agent configures the other after verifying its
 * credential, the fake reports a handshake 5 s ago on each side, and the hub's health says full mesh.
 */
export async function meshOfBoth(f: Fixture, name: string): Promise<Network> {
  const net = (await f.s.network.createNetwork({ name })).network;
  if (!net) throw new Error("CreateNetwork returned no network");
  for (const n of [f.node, f.peer]) await f.s.network.joinNetwork({ network: net.id, nodeId: n.id });
  const iface = `wg-sdwan-${net.handle}`;
  const peersOf = (n: ConsoleNode) => [...(n.wg.interfaces.get(iface)?.peers.keys() ?? [])];
  await waitFor(
    "both agents to configure each other",
    () => peersOf(f.node).length === 1 && peersOf(f.peer).length === 1,
    {
      timeoutMs: 30_000,
      intervalMs: 50,
    },
  );
  const now = Math.floor(Date.now() / 1000);
  for (const n of [f.node, f.peer])
    for (const k of peersOf(n))
      n.wg.setPeerStats(iface, k, { latestHandshakeUnix: now - 5, rxBytes: 1, txBytes: 1 });
  await waitFor(
    "GetMeshHealth full_mesh (handshakes reported by heartbeats)",
    async () => (await f.s.network.getMeshHealth({ network: net.id })).fullMesh,
    { timeoutMs: 30_000 },
  );
  return net;
}
