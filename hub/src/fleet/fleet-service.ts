/** FleetService: the operator's view of nodes and the event log (bearer token required). */

import { timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import type { FleetService } from "@powernode/proto";
import { EVENTS } from "@powernode/proto";
import type { Deps } from "../deps.ts";
import { getDesiredState } from "../desired-state/index.ts";
import { DomainError } from "../errors.ts";
import { type FleetEventRecord, listEventPage, listEvents } from "../events/index.ts";
import { revokeInstanceCertificates } from "../node/enroll.ts";
import { optionalUuidField, uuidField } from "../rpc/fields.ts";
import {
  fromProtoSeverity,
  fromProtoState,
  toProtoArch,
  toProtoEvent,
  toProtoState,
} from "../rpc/proto-convert.ts";
import { watch } from "../rpc/watch.ts";
import { joinNodeModules } from "./node-modules.ts";
import { getNode, listNodes, type NodeRecord } from "./nodes.ts";

/** ListEvents' page token: `b<seq>` (events before that sequence number), as an answer gave it. */
function parsePageToken(token: string): number | undefined {
  if (token === "") return undefined;
  const m = /^b(\d{1,15})$/.exec(token);
  if (!m) throw new DomainError("invalid_argument", "page_token: not a next_page_token from ListEvents");
  return Number(m[1]);
}

function toProtoNode(n: NodeRecord) {
  const ts = (d: Date | null) => (d ? timestampFromDate(d) : undefined);
  return {
    id: n.id,
    name: n.name,
    arch: toProtoArch(n.arch),
    state: toProtoState(n.state),
    provider: n.provider,
    agentVersion: n.agentVersion ?? "",
    bootId: n.bootId ?? "",
    lastHeartbeatAt: ts(n.lastHeartbeatAt),
    enrolledAt: ts(n.enrolledAt),
    certificateSerial: n.certificateSerial ?? "",
    certificateNotAfter: ts(n.certificateNotAfter),
    createdAt: timestampFromDate(n.createdAt),
    desiredVersion: BigInt(n.desiredVersion),
    appliedVersion: BigInt(n.appliedVersion),
    zombieCount: n.zombieCount ?? 0,
    agentRssBytes: BigInt(n.agentRssBytes ?? 0),
    childrenSpawned: n.childrenSpawned ?? 0,
    uptimeSeconds: n.uptimeSeconds ?? 0,
  };
}

/** Creates the FleetService implementation. */
export function createFleetService(deps: Deps): ServiceImpl<typeof FleetService> {
  return {
    getCaCertificate() {
      return { caPem: deps.ca.certPem };
    },
    async listNodes(req) {
      const state = req.state === 0 ? undefined : fromProtoState(req.state);
      if (req.state !== 0 && !state)
        throw new DomainError("invalid_argument", `state: unknown value ${req.state}`);
      const page = await listNodes(deps.db, { state, pageSize: req.pageSize, pageToken: req.pageToken });
      return { nodes: page.nodes.map(toProtoNode), nextPageToken: page.nextPageToken };
    },
    async getNode(req) {
      return { node: toProtoNode(await getNode(deps.db, req.id.toLowerCase())) };
    },
    async requestAttestation(req) {
      const node = await getNode(deps.db, req.nodeId.toLowerCase());
      if (node.state !== "running" && node.state !== "degraded")
        throw new DomainError(
          "precondition",
          `node_id: node ${node.id} is ${node.state}; it must be running`,
        );
      const c = deps.challenges.issue(node.id, deps.now());
      await deps.events.emit(
        EVENTS.attestationRequested,
        { expiresAt: c.expiresAt.toISOString() },
        {
          nodeId: node.id,
          correlationId: node.id,
        },
      );
      return { nonce: c.nonce, expiresAt: timestampFromDate(c.expiresAt) };
    },
    async getNodeModules(req) {
      const nodeId = uuidField("node_id", req.nodeId);
      await getNode(deps.db, nodeId); // NotFound for an unknown node
      const desired = await getDesiredState(deps.db, nodeId);
      const last = deps.attestation.lastObserved(nodeId);
      const modules = joinNodeModules(desired.modules?.assignments ?? [], last?.modules ?? []);
      return {
        desiredVersion: desired.version,
        modules: modules.map((m) => ({
          assignment: m.assignment,
          observed: m.observed && { ...m.observed, message: m.observed.message ?? "" },
          verified: m.verified,
        })),
        observedAt: last ? timestampFromDate(last.at) : undefined,
      };
    },
    async revokeNodeCertificates(req) {
      const nodeId = uuidField("node_id", req.nodeId);
      await getNode(deps.db, nodeId); // NotFound for an unknown node
      const serials = await revokeInstanceCertificates(deps, nodeId);
      for (const serial of serials)
        await deps.events.emit(EVENTS.certificateRevoked, { serial, reason: "operator" }, { nodeId });
      return { serials };
    },
    async listEvents(req) {
      if (req.limit > 1000) throw new DomainError("invalid_argument", "limit: at most 1000");
      const minSeverity = req.minSeverity === 0 ? undefined : fromProtoSeverity(req.minSeverity);
      const page = await listEventPage(deps.db, {
        kindPrefix: req.kindPrefix || undefined,
        nodeId: optionalUuidField("node_id", req.nodeId),
        correlationId: req.correlationId || undefined,
        since: req.since ? timestampDate(req.since) : undefined,
        minSeverity,
        limit: req.limit,
        beforeSeq: parsePageToken(req.pageToken),
      });
      return {
        events: page.events.map(toProtoEvent),
        nextPageToken: page.olderBeforeSeq === undefined ? "" : `b${page.olderBeforeSeq}`,
      };
    },
    async *watchEvents(req, ctx) {
      const filter = {
        kindPrefix: req.kindPrefix || undefined,
        nodeId: optionalUuidField("node_id", req.nodeId),
      };
      const since = req.since ? timestampDate(req.since) : undefined;
      for await (const e of watch<FleetEventRecord>({
        signal: ctx.signal,
        subscribe: (push) => deps.events.subscribe(filter, push),
        replay: async () => (since ? listEvents(deps.db, { ...filter, since, limit: 1000 }) : []),
        key: (e) => e.id,
      })) {
        yield { event: toProtoEvent(e) };
      }
    },
  };
}
