/**
 * `mesh`: makes each mesh of the desired state real on the node: `wg-sdwan-<handle>` with the node's
 * own key (made here, kept under the state dir, never sent), its /128 (with the network's /64 length),
 * the listen port, and one WireGuard peer per streamed peer whose credential verifies (AllowedIPs as
 * the hub routes them, keepalive 25 s). Level-triggered: on every change of the desired state or the
 * peer lists, and every 10 s (stats for the heartbeat, credentials that expired). Interfaces of meshes
 * no longer desired are deleted. MeshStatus carries what the heartbeat reports.
 */
import { EVENTS, type MeshMembership } from "@powernode/proto";
import { type Controller, type ControllerContext, defineReconciler } from "../../runtime/controller.ts";
import type { WireguardSys } from "../../sys/wireguard.ts";
import { loadOrCreateWgKey } from "../../sys/wireguard.ts";
import type { AgentDeps } from "../deps.ts";
import { DesiredNodeState, MeshPeers, type MeshReportShape, MeshStatus } from "../resources.ts";
import { decidePeers } from "./peer-config.ts";

export const MESH_RECONCILE_MS = 10_000;
const IFACE_PREFIX = "wg-sdwan-";

/** What the mesh controller needs of the OS. */
export interface MeshOs {
  wireguard: WireguardSys;
  /** Where the nodes' WireGuard private keys live (0700; one `<handle>.key` per mesh). */
  keyDir: string;
  /** The node's underlay IPv4 addresses other members can reach (not loopback, not overlay). */
  underlayAddresses(): string[];
}

export function meshController(deps: AgentDeps & { mesh: MeshOs }): Controller {
  const os = deps.mesh;
  const announced = new Set<string>();
  /** Per mesh: public key -> node id of the peers configured by the last pass. */
  const configured = new Map<string, Map<string, string>>();
  /** Per mesh and peer node: the highest credential revision accepted (older ones are replays). */
  const accepted = new Map<string, number>();
  const rejectedSeen = new Set<string>();

  async function applyMesh(ctx: ControllerContext, mesh: MeshMembership): Promise<MeshReportShape> {
    const iface = mesh.interfaceName;
    const key = await loadOrCreateWgKey(os.keyDir, mesh.handle);
    const endpoints = os.underlayAddresses().map((a) => `${a}:${mesh.listenPort}`);
    const report: MeshReportShape = {
      networkId: mesh.networkId,
      interfaceName: iface,
      publicKey: key.publicKey,
      listenPort: mesh.listenPort,
      endpoints,
      peers: [],
      problem: "",
    };
    try {
      await os.wireguard.ensureInterface(iface, {
        address: mesh.address,
        prefixLen: 64,
        mtu: mesh.mtu || 1420,
        vips: mesh.vips,
      });
      const peers = ctx.get(MeshPeers, mesh.networkId)?.spec.peers ?? [];
      const decision = decidePeers(mesh, peers, ctx.clock.now(), (nodeId) =>
        accepted.get(`${mesh.networkId}/${nodeId}`),
      );
      for (const a of decision.accepted) {
        const k = `${mesh.networkId}/${a.peer.nodeId}`;
        const rev = Number(a.peer.credential?.revision ?? 0n);
        if (rev > (accepted.get(k) ?? 0)) accepted.set(k, rev);
      }
      for (const r of decision.rejected) {
        const seen = `${mesh.networkId}/${r.peer.nodeId}/${r.peer.credential?.revision ?? 0}/${r.reason}`;
        if (rejectedSeen.has(seen)) continue;
        rejectedSeen.add(seen);
        ctx.log.warn(`mesh ${iface}: peer ${r.peer.nodeId} not configured: ${r.reason}`);
        deps.phases.record(EVENTS.meshPeerRejected.kind, {
          payload: { networkId: mesh.networkId, peer: r.peer.nodeId, reason: r.reason },
        });
      }
      const want = new Map(decision.accepted.map((a) => [a.config.publicKey, a]));
      const current = await os.wireguard.show(iface);
      const before = configured.get(mesh.networkId) ?? new Map<string, string>();
      for (const p of current?.peers ?? []) {
        if (want.has(p.publicKey)) continue;
        await os.wireguard.removePeer(iface, p.publicKey);
        const nodeId = before.get(p.publicKey) ?? "";
        ctx.log.info(`mesh ${iface}: peer ${nodeId || p.publicKey} removed`);
        deps.phases.record(EVENTS.meshPeerRemoved.kind, {
          payload: { networkId: mesh.networkId, peer: nodeId, publicKey: p.publicKey },
        });
      }
      await os.wireguard.setConfig(iface, {
        privateKeyFile: key.privateKeyFile,
        listenPort: mesh.listenPort,
        peers: decision.accepted.map((a) => a.config),
      });
      const had = new Set((current?.peers ?? []).map((p) => p.publicKey));
      for (const a of decision.accepted) {
        if (had.has(a.config.publicKey)) continue;
        ctx.log.info(`mesh ${iface}: peer ${a.peer.nodeId} at ${a.peer.address} added`);
        deps.phases.record(EVENTS.meshPeerAdded.kind, {
          payload: { networkId: mesh.networkId, peer: a.peer.nodeId, address: a.peer.address },
        });
      }
      configured.set(
        mesh.networkId,
        new Map(decision.accepted.map((a) => [a.config.publicKey, a.peer.nodeId])),
      );
      const shown = await os.wireguard.show(iface);
      report.peers = (shown?.peers ?? []).map((p) => ({
        publicKey: p.publicKey,
        nodeId: want.get(p.publicKey)?.peer.nodeId ?? "",
        endpoint: p.endpoint ?? "",
        latestHandshakeUnix: BigInt(p.latestHandshakeUnix),
        rxBytes: BigInt(p.rxBytes),
        txBytes: BigInt(p.txBytes),
      }));
      if (!announced.has(mesh.networkId)) {
        announced.add(mesh.networkId);
        ctx.log.info(`mesh ${iface}: up as ${mesh.address}, port ${mesh.listenPort}`);
        deps.phases.record(EVENTS.meshInterfaceUp.kind, {
          payload: { networkId: mesh.networkId, interface: iface, address: mesh.address },
        });
      }
    } catch (err) {
      report.problem = err instanceof Error ? err.message : String(err);
      ctx.log.warn(`mesh ${iface}: ${report.problem}`);
      if (announced.delete(mesh.networkId) || !rejectedSeen.has(`fail/${mesh.networkId}`)) {
        rejectedSeen.add(`fail/${mesh.networkId}`);
        deps.phases.record(EVENTS.meshInterfaceFailed.kind, {
          payload: { networkId: mesh.networkId, interface: iface, problem: report.problem },
        });
      }
    }
    return report;
  }

  return defineReconciler({
    name: "mesh",
    inputs: [DesiredNodeState, MeshPeers],
    outputs: [MeshStatus],
    intervalMs: MESH_RECONCILE_MS,
    async reconcile(ctx) {
      const meshes = ctx.get(DesiredNodeState, "node")?.spec.network?.meshes ?? [];
      const problems: string[] = [];
      for (const mesh of meshes) {
        const report = await applyMesh(ctx, mesh);
        if (report.problem) problems.push(`${mesh.interfaceName}: ${report.problem}`);
        ctx.set(MeshStatus, mesh.networkId, report);
      }
      const want = new Set(meshes.map((m) => m.networkId));
      for (const r of ctx.list(MeshStatus)) if (!want.has(r.id)) ctx.remove(MeshStatus, r.id);
      const names = new Set(meshes.map((m) => m.interfaceName));
      for (const iface of await os.wireguard.listInterfaces(IFACE_PREFIX)) {
        if (names.has(iface)) continue;
        ctx.log.info(`mesh ${iface}: no longer desired, deleting it`);
        await os.wireguard.deleteInterface(iface);
      }
      return problems.length > 0
        ? { ok: false, reason: "InterfaceFailed", message: problems.join("; ") }
        : { ok: true, reason: "Reconciled", message: `${meshes.length} meshes` };
    },
  });
}
