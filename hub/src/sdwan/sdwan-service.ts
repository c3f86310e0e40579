/** SdwanService (operators): thin edges over bridges.ts, collectors.ts, vrf.ts and ovn.ts. */
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import type { SdwanService } from "@powernode/proto";
import { eq } from "drizzle-orm";
import { networks } from "../db/schema/index.ts";
import type { Deps } from "../deps.ts";
import { interfaceName } from "../network/addresses.ts";
import { routerAddress } from "../network/router-address.ts";
import { getInstance } from "../provision/instances.ts";
import { choiceField, INT4_MAX, intField, nameField, uuidField } from "../rpc/fields.ts";
import {
  allocateHostBridge,
  type BridgeRow,
  bridgesOf,
  drainHostBridge,
  ovsPeersOf,
  removeHostBridge,
} from "./bridges.ts";
import {
  type CollectorRow,
  createCollector,
  deleteCollector,
  enabledCollectors,
  listCollectors,
  setCollectorEnabled,
} from "./collectors.ts";
import { flowStoreOf } from "./flow-store.ts";
import { derivedAsn } from "./frr.ts";
import {
  createAcl,
  createDeployment,
  createPort,
  createRouter,
  createSwitch,
  type DeploymentRow,
  planFor,
  setDeploymentState,
} from "./ovn.ts";
import { planDigest } from "./ovn-plan.ts";
import type { OvsPeer } from "./ovs-segment.ts";
import { suggestNetworkProfile } from "./profile.ts";
import { bridgeEntry, ipfixTarget } from "./section.ts";
import {
  allocateVrf,
  createRouteLeak,
  type LeakRow,
  listRouteLeaks,
  revokeRouteLeak,
  setNetworkBgpAsn,
  type VrfRow,
  vrfsOf,
} from "./vrf.ts";

async function vrfProto(deps: Deps, v: VrfRow) {
  const [n] = await deps.db.select().from(networks).where(eq(networks.id, v.networkId));
  return {
    id: v.id,
    nodeId: v.nodeId,
    networkId: v.networkId,
    network: n?.name ?? "",
    vrfName: v.vrfName,
    tableId: v.tableId,
    interfaceName: n ? interfaceName(n.handle) : "",
    asn: n ? (n.bgpAsn ?? derivedAsn(n.id)) : 0,
    routerAddress: routerAddress(v.networkId, v.nodeId),
  };
}

const leakProto = (l: LeakRow) => ({
  id: l.id,
  fromNetworkId: l.fromNetworkId,
  toNetworkId: l.toNetworkId,
  prefix: l.prefix,
  state: l.state,
  createdAt: timestampFromDate(l.createdAt),
});

const deploymentProto = (d: DeploymentRow) => ({
  id: d.id,
  name: d.name,
  nbEndpoint: d.nbEndpoint,
  sbEndpoint: d.sbEndpoint,
  northdHost: d.northdHost,
  networkId: d.networkId,
  state: d.state,
});

const DEFAULT_IPFIX_PORT = 4739;
const DEFAULT_SAMPLING = 64;

/** Bridges as the API shows them, the collectors read once for all of them. */
async function bridgesProto(deps: Deps, rows: readonly BridgeRow[]) {
  const collectors = await enabledCollectors(deps.db);
  const peers = new Map<string, OvsPeer[]>();
  for (const b of rows)
    if (b.kind === "ovs" && !peers.has(b.nodeId)) peers.set(b.nodeId, await ovsPeersOf(deps.db, b.nodeId));
  return rows.map((b) => bridgeEntry(b, collectors, peers.get(b.nodeId)));
}

const toProto = async (deps: Deps, b: BridgeRow) => (await bridgesProto(deps, [b]))[0];

const collectorProto = (c: CollectorRow) => ({
  id: c.id,
  name: c.name,
  host: c.host,
  port: c.port,
  sampling: c.sampling,
  enabled: c.enabled,
  target: ipfixTarget(c.host, c.port),
  createdAt: timestampFromDate(c.createdAt),
});

const kindField = (v: string) => (v === "" ? undefined : choiceField("kind", v, ["linux", "ovs"] as const));

export function createSdwanService(deps: Deps): ServiceImpl<typeof SdwanService> {
  return {
    async allocateHostBridge(req) {
      const a = await allocateHostBridge(deps, uuidField("node_id", req.nodeId), kindField(req.kind));
      return { bridge: await toProto(deps, a.bridge), created: a.created, readopted: a.readopted };
    },
    async drainHostBridge(req) {
      return {
        bridge: await toProto(deps, await drainHostBridge(deps, uuidField("bridge_id", req.bridgeId))),
      };
    },
    async removeHostBridge(req) {
      return {
        bridge: await toProto(deps, await removeHostBridge(deps, uuidField("bridge_id", req.bridgeId))),
      };
    },
    async listHostBridges(req) {
      const node = await getInstance(deps, uuidField("node_id", req.nodeId), "node_id");
      const rows = await bridgesOf(deps.db, node.id);
      return { bridges: await bridgesProto(deps, rows) };
    },
    async suggestNetworkProfile(req) {
      const node = await getInstance(deps, uuidField("node_id", req.nodeId), "node_id");
      const s = suggestNetworkProfile({ vcpus: node.vcpus, memoryMib: node.memoryMib });
      return { profile: s.profile, reason: s.reason, current: node.networkProfile ?? "" };
    },
    async createIpfixCollector(req) {
      const c = await createCollector(deps, {
        name: nameField("name", req.name, "collector name"),
        host: req.host,
        port: req.port === 0 ? DEFAULT_IPFIX_PORT : intField("port", req.port, 1, 65535),
        sampling: req.sampling === 0 ? DEFAULT_SAMPLING : intField("sampling", req.sampling, 1, INT4_MAX),
      });
      return { collector: collectorProto(c) };
    },
    async setIpfixCollectorEnabled(req) {
      return { collector: collectorProto(await setCollectorEnabled(deps, req.collector, req.enabled)) };
    },
    async listIpfixCollectors() {
      return { collectors: (await listCollectors(deps.db)).map(collectorProto) };
    },
    async deleteIpfixCollector(req) {
      await deleteCollector(deps, req.collector);
      return {};
    },
    async listIpfixFlows(req) {
      const store = flowStoreOf(deps);
      const nodeId = req.nodeId === "" ? undefined : uuidField("node_id", req.nodeId);
      const c = store.counters();
      return {
        receiver: {
          listen: store.listen,
          messages: BigInt(c.messages),
          rejected: BigInt(c.rejected),
          unknownDomain: BigInt(c.unknownDomain),
        },
        nodes: store.nodes(nodeId).map((n) => ({
          nodeId: n.nodeId,
          observationDomainId: n.observationDomainId,
          exporter: n.exporter,
          messages: BigInt(n.messages),
          records: BigInt(n.records),
          packets: n.packets,
          octets: n.octets,
          lastMessageAt: timestampFromDate(n.lastMessageAt),
          recent: n.recent.map((f) => ({
            sourceAddress: f.source,
            destinationAddress: f.destination,
            protocol: f.protocol,
            ethernetType: f.ethernetType,
            packets: f.packets,
            octets: f.octets,
            templateId: f.templateId,
            receivedAt: timestampFromDate(f.receivedAt),
          })),
        })),
      };
    },
    async allocateVrf(req) {
      const r = await allocateVrf(deps, uuidField("node_id", req.nodeId), req.network);
      return { vrf: await vrfProto(deps, r.vrf), created: r.created };
    },
    async listVrfs(req) {
      const node = await getInstance(deps, uuidField("node_id", req.nodeId), "node_id");
      const rows = await vrfsOf(deps.db, node.id);
      return { vrfs: await Promise.all(rows.map((v) => vrfProto(deps, v))) };
    },
    async setNetworkBgpAsn(req) {
      return setNetworkBgpAsn(deps, req.network, req.asn);
    },
    async createRouteLeak(req) {
      return { leak: leakProto(await createRouteLeak(deps, req.fromNetwork, req.toNetwork, req.prefix)) };
    },
    async revokeRouteLeak(req) {
      return { leak: leakProto(await revokeRouteLeak(deps, req.leakId)) };
    },
    async listRouteLeaks() {
      return { leaks: (await listRouteLeaks(deps.db)).map(leakProto) };
    },
    async createOvnDeployment(req) {
      return { deployment: deploymentProto(await createDeployment(deps, req)) };
    },
    async setOvnDeploymentState(req) {
      return { deployment: deploymentProto(await setDeploymentState(deps, req.deployment, req.state)) };
    },
    async createLogicalSwitch(req) {
      const s = await createSwitch(deps, req.deployment, req.name, req.subnet);
      return { switch: { id: s.id, deploymentId: s.deploymentId, name: s.name, subnet: s.subnet } };
    },
    async createLogicalRouter(req) {
      const r = await createRouter(deps, req.deployment, req.name);
      return { router: { id: r.id, deploymentId: r.deploymentId, name: r.name } };
    },
    async createLogicalPort(req) {
      const p = await createPort(deps, req);
      return {
        port: {
          id: p.id,
          switchId: p.switchId,
          name: p.name,
          kind: p.kind,
          nodeId: p.nodeId ?? "",
          routerId: p.routerId ?? "",
          address: p.address,
          mac: p.mac,
        },
      };
    },
    async createOvnAcl(req) {
      const a = await createAcl(deps, req);
      return {
        acl: {
          id: a.id,
          switchId: a.switchId,
          direction: a.direction,
          priority: a.priority,
          match: a.match,
          action: a.action,
        },
      };
    },
    async getOvnPlan(req) {
      const plan = await planFor(deps.db, req.deployment);
      return { commands: plan.map((argv) => ({ argv })), sha256: planDigest(plan) };
    },
  };
}
