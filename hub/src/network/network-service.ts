/** NetworkService (operator): networks, members, credentials, mesh health and VIPs (vip-service.ts). */
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import { MeshTopology, type NetworkService } from "@powernode/proto";
import { and, eq } from "drizzle-orm";
import { membershipCredentials } from "../db/schema/index.ts";
import type { Deps } from "../deps.ts";
import { DomainError } from "../errors.ts";
import { intField, nameField, textField, uuidField } from "../rpc/fields.ts";
import { toWire } from "./credentials.ts";
import { meshHealth } from "./health.ts";
import { reissueMember, revokeMember } from "./member-credentials.ts";
import { ENDPOINT_RE, MAX_ENDPOINTS, WG_KEY_RE } from "./mesh-reports.ts";
import {
  createNetwork,
  deleteNetwork,
  joinNetwork,
  leaveNetwork,
  listMembers,
  listNetworks,
  type MemberRow,
  type NetworkRow,
  resolveNetwork,
} from "./networks.ts";
import { joinOperatorPeer, leaveOperatorPeer } from "./operator-peers.ts";
import { createVipMethods } from "./vip-service.ts";

const topologyOf = (t: NetworkRow["topology"]) =>
  t === "hub_and_spoke" ? MeshTopology.HUB_AND_SPOKE : MeshTopology.FULL_MESH;

function toProtoNetwork(n: NetworkRow, memberCount = 0) {
  return {
    id: n.id,
    name: n.name,
    handle: n.handle,
    prefix: n.prefix,
    topology: topologyOf(n.topology),
    listenPort: n.listenPort,
    mtu: n.mtu,
    constellationHandle: n.constellationHandle,
    constellationPublicKey: n.signingPublicKey,
    version: BigInt(n.version),
    memberCount,
    createdAt: timestampFromDate(n.createdAt),
  };
}

export function createNetworkService(deps: Deps): ServiceImpl<typeof NetworkService> {
  const nodeId = (v: string) => uuidField("node_id", v);
  const network = (v: string) => textField("network", v, { required: true, max: 128 });
  async function toProtoMember(m: MemberRow & { nodeName?: string }) {
    const [c] = await deps.db
      .select({ status: membershipCredentials.status, revision: membershipCredentials.revision })
      .from(membershipCredentials)
      .where(and(eq(membershipCredentials.memberId, m.id), eq(membershipCredentials.status, "active")));
    return {
      id: m.id,
      networkId: m.networkId,
      nodeId: m.instanceId ?? m.id,
      nodeName: m.nodeName ?? "",
      address: m.address,
      publicKey: m.publicKey ?? "",
      endpoints: m.endpoints,
      hub: m.hub,
      credentialStatus: c ? "active" : m.publicKey ? "revoked" : "none",
      credentialRevision: BigInt(c?.revision ?? 0),
    };
  }
  return {
    ...createVipMethods(deps),
    async createNetwork(req) {
      const topology =
        req.topology === MeshTopology.HUB_AND_SPOKE
          ? "hub_and_spoke"
          : req.topology === MeshTopology.FULL_MESH || req.topology === MeshTopology.UNSPECIFIED
            ? "full_mesh"
            : undefined;
      if (!topology) throw new DomainError("invalid_argument", `topology: unknown value ${req.topology}`);
      const row = await createNetwork(deps, {
        name: nameField("name", req.name, "network name"),
        prefix: textField("prefix", req.prefix, { max: 64 }) || undefined,
        topology,
        listenPort: req.listenPort === 0 ? undefined : intField("listen_port", req.listenPort, 1, 65535),
        mtu: req.mtu === 0 ? undefined : intField("mtu", req.mtu, 1280, 9000),
      });
      return { network: toProtoNetwork(row) };
    },
    async listNetworks() {
      return { networks: (await listNetworks(deps.db)).map((n) => toProtoNetwork(n, n.memberCount)) };
    },
    async getNetwork(req) {
      const n = await resolveNetwork(deps.db, network(req.network));
      return { network: toProtoNetwork(n, (await listMembers(deps.db, n.id)).length) };
    },
    async deleteNetwork(req) {
      await deleteNetwork(deps, network(req.network));
      return {};
    },
    async joinNetwork(req) {
      const m = await joinNetwork(deps, {
        network: network(req.network),
        nodeId: nodeId(req.nodeId),
        hub: req.hub,
      });
      return { member: await toProtoMember(m) };
    },
    async leaveNetwork(req) {
      await leaveNetwork(deps, { network: network(req.network), nodeId: nodeId(req.nodeId) });
      return {};
    },
    async joinOperatorPeer(req) {
      const name = nameField("name", req.name);
      if (!WG_KEY_RE.test(req.publicKey))
        throw new DomainError("invalid_argument", "public_key: not a base64 WireGuard key (32 bytes)");
      if (req.endpoints.length > MAX_ENDPOINTS)
        throw new DomainError("invalid_argument", `endpoints: more than ${MAX_ENDPOINTS}`);
      for (const [i, e] of req.endpoints.entries())
        if (!ENDPOINT_RE.test(e))
          throw new DomainError("invalid_argument", `endpoints[${i}]: "${e.slice(0, 64)}" is not host:port`);
      const joined = await joinOperatorPeer(deps, {
        network: network(req.network),
        name,
        publicKey: req.publicKey,
        endpoints: [...req.endpoints],
      });
      return {
        member: await toProtoMember({ ...joined.member, nodeName: name }),
        membership: joined.membership,
        peers: joined.peers,
      };
    },
    async leaveOperatorPeer(req) {
      await leaveOperatorPeer(deps, { network: network(req.network), name: nameField("name", req.name) });
      return {};
    },
    async listMembers(req) {
      const n = await resolveNetwork(deps.db, network(req.network));
      const members = await listMembers(deps.db, n.id);
      return { members: await Promise.all(members.map(toProtoMember)) };
    },
    async revokeCredential(req) {
      return { revoked: await revokeMember(deps, network(req.network), nodeId(req.nodeId)) };
    },
    async issueCredential(req) {
      return { credential: toWire(await reissueMember(deps, network(req.network), nodeId(req.nodeId))) };
    },
    async getMeshHealth(req) {
      const n = await resolveNetwork(deps.db, network(req.network));
      const h = await meshHealth(deps.db, n, deps.now());
      return {
        fullMesh: h.fullMesh,
        members: h.members.map((m) => ({
          ...m,
          reportedAt: m.reportedAt ? timestampFromDate(m.reportedAt) : undefined,
          peers: m.peers.map((p) => ({
            ...p,
            handshakeAgeSeconds: BigInt(p.handshakeAgeSeconds),
            rxBytes: BigInt(p.rxBytes),
            txBytes: BigInt(p.txBytes),
          })),
        })),
      };
    },
  };
}
