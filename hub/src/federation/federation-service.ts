/** FederationService (operators) and FederationPeerService (other hubs): thin edges over peering.ts. */
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import { type FederationPeerService, type FederationService, PeerRole, PeerState } from "@powernode/proto";
import type { Deps } from "../deps.ts";
import { requirePeerHub } from "../rpc/context.ts";
import { textField } from "../rpc/fields.ts";
import { callPeer, peerClient } from "./peer-client.ts";
import { catalogEntries, fleetSummary, hubNameOf } from "./peer-reads.ts";
import { accept, propose, revoke, serveAccept, serveComplete } from "./peering.ts";
import { getPeer, listPeers, type PeerRow } from "./peers.ts";
import {
  basebackupArgv,
  createReplicationSlot,
  memberSlots,
  ownDatabaseUrl,
  type ReplicationLag,
  requireSynchronousMember,
  slotField,
} from "./replication.ts";

const STATE: Record<PeerRow["state"], PeerState> = {
  proposed: PeerState.PROPOSED,
  accepted: PeerState.ACCEPTED,
  active: PeerState.ACTIVE,
  revoked: PeerState.REVOKED,
};

function toSlotProto(s: ReplicationLag & { slot: string }) {
  return {
    slot: s.slot,
    lagBytes: BigInt(Math.max(0, Math.round(s.bytes))),
    lagSeconds: s.seconds,
    streaming: s.streaming,
    synchronous: s.synchronous,
  };
}

const ts = (d: Date | null) => (d ? timestampFromDate(d) : undefined);

function toProto(r: PeerRow) {
  return {
    id: r.id,
    name: r.name,
    role: r.role === "proposer" ? PeerRole.PROPOSER : PeerRole.ACCEPTOR,
    state: STATE[r.state],
    remoteUrl: r.remoteUrl,
    remoteHubName: r.remoteHubName,
    remoteCaSha256: r.remoteCaSha256 ?? "",
    issuedSerial: r.issuedSerial ?? "",
    tokenExpiresAt: ts(r.tokenExpiresAt),
    acceptedAt: ts(r.acceptedAt),
    revokedAt: ts(r.revokedAt),
    revokedReason: r.revokedReason,
    lastSeenAt: ts(r.lastSeenAt),
    createdAt: ts(r.createdAt),
  };
}

export function createFederationService(deps: Deps): ServiceImpl<typeof FederationService> {
  const peerOf = (ref: string) => getPeer(deps.db, textField("peer", ref, { max: 100 }));
  return {
    async proposePeering(req) {
      const { row, token } = await propose(deps, {
        name: req.name,
        remoteUrl: textField("remote_url", req.remoteUrl, { required: true, max: 300 }),
        localUrl: textField("local_url", req.localUrl, { max: 300 }),
      });
      return { peer: toProto(row), acceptanceToken: token };
    },
    async acceptPeering(req) {
      const row = await accept(deps, {
        token: textField("token", req.token, { required: true, max: 2048 }),
        name: textField("name", req.name, { max: 63 }),
        localUrl: textField("local_url", req.localUrl, { max: 300 }),
      });
      return { peer: toProto(row) };
    },
    async listPeers() {
      return { peers: (await listPeers(deps.db)).map(toProto) };
    },
    async getPeer(req) {
      return { peer: toProto(await peerOf(req.peer)) };
    },
    async revokePeer(req) {
      const reason = textField("reason", req.reason, { max: 500 }) || "revoked by an operator";
      const { row, notified } = await revoke(deps, await peerOf(req.peer), reason, true);
      return { peer: toProto(row), peerNotified: notified };
    },
    async getPeerFleetSummary(req) {
      const row = await peerOf(req.peer);
      const r = await callPeer(row, () => peerClient(deps, row).getFleetSummary({}));
      return { summary: r.summary };
    },
    async listPeerCatalog(req) {
      const row = await peerOf(req.peer);
      const r = await callPeer(row, () => peerClient(deps, row).listCatalog({}));
      return { entries: r.entries };
    },
    async createMemberSlot(req) {
      const url = ownDatabaseUrl(deps);
      const made = await createReplicationSlot(deps, url, slotField("slot", req.slot));
      if (req.synchronous) await requireSynchronousMember(url, made.slot);
      const lag = (await memberSlots(deps)).find((s) => s.slot === made.slot);
      const withoutPassword = new URL(url);
      withoutPassword.password = "";
      return {
        slot: toSlotProto({
          slot: made.slot,
          bytes: 0,
          seconds: 0,
          streaming: false,
          synchronous: false,
          ...lag,
        }),
        created: made.created,
        basebackupArgs: basebackupArgv({
          parentUrl: withoutPassword.toString(),
          slot: made.slot,
          dataDir: "<member data dir>",
        }),
      };
    },
    async listMemberSlots() {
      ownDatabaseUrl(deps);
      return { slots: (await memberSlots(deps)).map(toSlotProto) };
    },
  };
}

export function createFederationPeerService(deps: Deps): ServiceImpl<typeof FederationPeerService> {
  return {
    async hello() {
      return { hubName: hubNameOf(deps.config), caPem: deps.ca.certPem };
    },
    async accept(req) {
      return serveAccept(deps, req);
    },
    async complete(req, ctx) {
      await serveComplete(deps, requirePeerHub(ctx).peerId, req.clientCertPem);
      return {};
    },
    async getFleetSummary(_req, ctx) {
      requirePeerHub(ctx);
      return { summary: await fleetSummary(deps) };
    },
    async listCatalog(_req, ctx) {
      requirePeerHub(ctx);
      return { entries: await catalogEntries(deps) };
    },
    async revoked(req, ctx) {
      const me = requirePeerHub(ctx);
      const reason = textField("reason", req.reason, { max: 500 }) || "revoked by the peer";
      await revoke(deps, await getPeer(deps.db, me.peerId), `the peer revoked: ${reason}`, false);
      return {};
    },
  };
}
