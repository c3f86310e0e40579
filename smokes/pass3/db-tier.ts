/**
 * Pass 3, db tier: the hub side of the mesh with real agent controllers in process. The WireGuard
 * interface is a fake (the host kernel has no WireGuard module; the site tier runs the real one).
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type AgentSession,
  createMemoryLog,
  MeshPeers,
  MeshStatus,
  startAgentSession,
} from "@powernode/node-agent";
import { Arch, type Network } from "@powernode/proto";
import {
  createRecordingWireguardFake,
  type RecordingWireguardFake,
} from "../../node-agent/src/sys/wireguard-fake.ts";
import { type SmokeHub, startSmokeHub } from "../lib/hub.ts";
import { scanForPrivateKeys } from "../lib/key-scan.ts";
import type { PassContext } from "../lib/pass.ts";
import { waitFor } from "../lib/wait.ts";
import { sdwanChecks } from "./sdwan-db.ts";

const HEARTBEAT_SECONDS = 2;

interface MeshAgent {
  name: string;
  id: string;
  stateDir: string;
  wg: RecordingWireguardFake;
  session: AgentSession;
  underlay: string;
  /** Stops the session and starts a new one on the same state dir (a reboot with a persistent disk). */
  restart(): Promise<void>;
}

async function startMeshAgent(t: PassContext, s: SmokeHub, name: string, index: number): Promise<MeshAgent> {
  const created = await s.provision.createInstance({ name, arch: Arch.AMD64, provider: "none", start: true });
  const id = created.instance?.id ?? "";
  const stateDir = mkdtempSync(join(tmpdir(), "pass3-agent-"));
  t.defer(() => rmSync(stateDir, { recursive: true, force: true }));
  const underlay = `127.0.3.${10 + index}`;
  const wg = createRecordingWireguardFake();
  const start = () =>
    startAgentSession({
      identity: {
        instanceUuid: id,
        bootstrapToken: created.bootstrapToken,
        platformUrl: s.hub.mtlsUrl,
        caPem: s.hub.caPem,
      },
      stateDir,
      log: createMemoryLog(),
      backoff: { initialMs: 200, maxMs: 2000 },
      mesh: { wireguard: wg, keyDir: join(stateDir, "wireguard"), underlayAddresses: () => [underlay] },
    });
  const agent: MeshAgent = {
    name,
    id,
    stateDir,
    wg,
    underlay,
    session: await start(),
    async restart() {
      await agent.session.stop();
      agent.session = await start();
    },
  };
  t.defer(() => agent.session.stop());
  await agent.session.waitFor(`${name} heartbeats`, (x) => x.heartbeatsAcked() > 0, 30_000);
  return agent;
}

const publicKeyOf = (a: MeshAgent, networkId: string) =>
  a.session.engine.store.get(MeshStatus, networkId)?.spec.publicKey ?? "";

/** The public keys configured as peers on an agent's interface. */
const configuredPeers = (a: MeshAgent, iface: string) =>
  [...(a.wg.interfaces.get(iface)?.peers.keys() ?? [])].sort();

/** Resolves once every agent has exactly the others (by public key) as peers. */
async function fullMeshConfigured(
  agents: readonly MeshAgent[],
  net: Network,
  timeoutMs = 30_000,
): Promise<void> {
  const iface = `wg-sdwan-${net.handle}`;
  await waitFor(
    `${agents.length} agents to configure each other on ${iface}`,
    () =>
      agents.every((a) => {
        const want = agents
          .filter((o) => o !== a)
          .map((o) => publicKeyOf(o, net.id))
          .sort();
        return !want.includes("") && JSON.stringify(configuredPeers(a, iface)) === JSON.stringify(want);
      }),
    { timeoutMs, intervalMs: 50 },
  );
}

export async function meshDbTier(t: PassContext): Promise<void> {
  const s = await t.step("start a hub", () => startSmokeHub(t, { heartbeatSeconds: HEARTBEAT_SECONDS }));
  const stamp = Date.now().toString(36);
  const net = await t.step("CreateNetwork (full mesh, random ULA /64)", async () => {
    const n = (await s.network.createNetwork({ name: `pass3-${stamp}` })).network;
    if (!n) throw new Error("CreateNetwork returned no network");
    t.info(
      `network ${n.name}: ${n.prefix}, interface wg-sdwan-${n.handle}, constellation ${n.constellationHandle}`,
    );
    return n;
  });
  const iface = `wg-sdwan-${net.handle}`;
  const agents = await t.step("three in-process agents enroll and heartbeat", async () => {
    const out: MeshAgent[] = [];
    for (const [i, n] of ["a", "b", "c"].entries())
      out.push(await startMeshAgent(t, s, `pass3-${n}-${stamp}`, i));
    return out;
  });
  const [a, b, c] = agents as [MeshAgent, MeshAgent, MeshAgent];
  const joinedAt = performance.now();
  await t.step("JoinNetwork for each node", async () => {
    for (const x of agents) await s.network.joinNetwork({ network: net.id, nodeId: x.id });
  });

  await t.check("every agent configures the other two after verifying their credentials", async () => {
    await fullMeshConfigured(agents, net);
    return `full mesh configured ${((performance.now() - joinedAt) / 1000).toFixed(2)} s after the joins`;
  });

  await t.check("peer entries: the peer's /128, its underlay endpoint, keepalive 25 s", async () => {
    const { members } = await s.network.listMembers({ network: net.id });
    const peer = a.wg.interfaces.get(iface)?.peers.get(publicKeyOf(b, net.id));
    const bAddress = members.find((m) => m.nodeId === b.id)?.address;
    const want = {
      allowedIps: [`${bAddress}/128`],
      endpoint: `${b.underlay}:${net.listenPort}`,
      persistentKeepalive: 25,
    };
    const got = {
      allowedIps: peer?.allowedIps,
      endpoint: peer?.endpoint,
      persistentKeepalive: peer?.persistentKeepalive,
    };
    if (JSON.stringify(got) !== JSON.stringify(want))
      throw new Error(`a's peer b: ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
    const addr = a.wg.interfaces.get(iface)?.address;
    const mine = members.find((m) => m.nodeId === a.id)?.address;
    if (addr !== mine) throw new Error(`a's interface address ${addr}, hub says ${mine}`);
    return `${want.allowedIps[0]} via ${want.endpoint}`;
  });

  await t.check("no hub table holds a node's WireGuard private key", async () => {
    const known = agents.map((x) =>
      readFileSync(join(x.stateDir, "wireguard", `${net.handle}.key`), "utf8").trim(),
    );
    const scan = await scanForPrivateKeys(
      s.hub,
      agents.map((x) => publicKeyOf(x, net.id)),
      known,
    );
    if (scan.leaks.length > 0) throw new Error(scan.leaks.join("; "));
    if (scan.candidates === 0) throw new Error("no 32-byte values scanned: the scan proves nothing");
    return `${scan.tables} tables, ${scan.bytes} bytes, ${scan.candidates} 32-byte values tried as X25519 private keys`;
  });

  const d = await t.step("a fourth agent enrolls", () => startMeshAgent(t, s, `pass3-d-${stamp}`, 3));
  await t.check(
    "a fourth node joining is one delta per existing member (one message, one upsert)",
    async () => {
      const before = agents.map((x) => x.session.engine.store.get(MeshPeers, net.id)?.spec);
      await s.network.joinNetwork({ network: net.id, nodeId: d.id });
      await fullMeshConfigured([...agents, d], net);
      const { network: after } = await s.network.getNetwork({ network: net.id });
      for (const [i, x] of agents.entries()) {
        const b0 = before[i];
        const b1 = x.session.engine.store.get(MeshPeers, net.id)?.spec;
        // A member's own changes bump the network's version without a message to it, so versions are
        // compared with the network's, and the message count with the member's own.
        if (!b0 || !b1 || b1.messages !== b0.messages + 1 || b1.version !== after?.version)
          throw new Error(
            `${x.name}: messages ${b0?.messages} -> ${b1?.messages} (want +1), version ${b1?.version} (network ${after?.version})`,
          );
        const added = b1.peers
          .filter((p) => !b0.peers.some((q) => q.nodeId === p.nodeId))
          .map((p) => p.nodeId);
        if (JSON.stringify(added) !== JSON.stringify([d.id]))
          throw new Error(`${x.name}: added ${added.join(",")}`);
      }
      return `each of 3 members got 1 message adding d (network version ${after?.version})`;
    },
  );
  await t.check(
    `revoking c's credential: a, b, d drop c within one heartbeat interval (${HEARTBEAT_SECONDS} s)`,
    async () => {
      const cKey = publicKeyOf(c, net.id);
      const started = performance.now();
      const { revoked } = await s.network.revokeCredential({ network: net.id, nodeId: c.id });
      await waitFor(
        "c dropped everywhere",
        () => [a, b, d].every((x) => !configuredPeers(x, iface).includes(cKey)),
        {
          timeoutMs: HEARTBEAT_SECONDS * 1000,
          intervalMs: 20,
        },
      );
      return `${revoked} revoked; dropped by all in ${((performance.now() - started) / 1000).toFixed(2)} s`;
    },
  );

  await t.check("reissuing c's credential brings c back", async () => {
    const { credential } = await s.network.issueCredential({ network: net.id, nodeId: c.id });
    const started = performance.now();
    await fullMeshConfigured([...agents, d], net, 10_000);
    return `revision ${credential?.revision}; back in ${((performance.now() - started) / 1000).toFixed(2)} s`;
  });

  await t.check("an agent restarted on its state dir keeps its address and key and rejoins", async () => {
    const key = publicKeyOf(b, net.id);
    const address = b.wg.interfaces.get(iface)?.address;
    b.wg.interfaces.clear(); // a reboot loses the kernel's interfaces
    await b.restart();
    await fullMeshConfigured([...agents, d], net);
    const key2 = publicKeyOf(b, net.id);
    const address2 = b.wg.interfaces.get(iface)?.address;
    if (key2 !== key || address2 !== address)
      throw new Error(`key ${key} -> ${key2}, address ${address} -> ${address2}`);
    return `${address2}, same key, ${configuredPeers(b, iface).length} peers again`;
  });

  await t.check(
    "mesh health: handshakes reported by heartbeats make a full mesh; stale ones are down",
    async () => {
      const now = Math.floor(Date.now() / 1000);
      for (const x of [...agents, d])
        for (const k of configuredPeers(x, iface))
          x.wg.setPeerStats(iface, k, { latestHandshakeUnix: now, rxBytes: 1, txBytes: 1 });
      const h = await waitFor(
        "GetMeshHealth full_mesh",
        async () => {
          const r = await s.network.getMeshHealth({ network: net.id });
          return r.fullMesh ? r : undefined;
        },
        { timeoutMs: 30_000 },
      );
      for (const k of configuredPeers(a, iface))
        a.wg.setPeerStats(iface, k, { latestHandshakeUnix: now - 400 });
      const h2 = await waitFor(
        "a's peers down",
        async () => {
          const r = await s.network.getMeshHealth({ network: net.id });
          return !r.fullMesh && r.members.find((m) => m.nodeId === a.id)?.peers.every((p) => !p.up)
            ? r
            : undefined;
        },
        { timeoutMs: 30_000 },
      );
      return `${h.members.length} members, each with ${h.members[0]?.expectedPeers} peers up; then a's ${h2.members.find((m) => m.nodeId === a.id)?.peers.length} peers down at 400 s`;
    },
  );

  await t.check("LeaveNetwork: the others drop d; d deletes its interface", async () => {
    await s.network.leaveNetwork({ network: net.id, nodeId: d.id });
    await fullMeshConfigured(agents, net);
    await waitFor("d's interface gone", () => !d.wg.interfaces.has(iface), { timeoutMs: 10_000 });
    return "3 members again; d has no wg-sdwan interface";
  });

  await sdwanChecks(t, s, stamp);
}
