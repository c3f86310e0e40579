/** FleetService: the operator's view of nodes and the event log (bearer token required). */
import { timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import type { FleetService } from "@powernode/proto";
import type { Deps } from "../../deps.ts";
import { DomainError } from "../../errors.ts";
import { type FleetEventRecord, listEvents } from "../../events/index.ts";
import {
  fromProtoSeverity,
  fromProtoState,
  toProtoArch,
  toProtoEvent,
  toProtoState,
} from "../proto-convert.ts";
import { getNode, listNodes, type NodeRecord } from "./nodes.ts";

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function optionalUuid(field: string, v: string): string | undefined {
  if (v === "") return undefined;
  if (!UUID_RE.test(v)) throw new DomainError("invalid_argument", `${field}: not a UUID`);
  return v;
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
        "system.attestation.requested",
        "info",
        { expiresAt: c.expiresAt.toISOString() },
        {
          nodeId: node.id,
          correlationId: node.id,
        },
      );
      return { nonce: c.nonce, expiresAt: timestampFromDate(c.expiresAt) };
    },
    async listEvents(req) {
      if (req.limit > 1000) throw new DomainError("invalid_argument", "limit: at most 1000");
      const minSeverity = req.minSeverity === 0 ? undefined : fromProtoSeverity(req.minSeverity);
      const events = await listEvents(deps.db, {
        kindPrefix: req.kindPrefix || undefined,
        nodeId: optionalUuid("node_id", req.nodeId),
        correlationId: req.correlationId || undefined,
        since: req.since ? timestampDate(req.since) : undefined,
        minSeverity,
        limit: req.limit,
      });
      return { events: events.map(toProtoEvent) };
    },
    async *watchEvents(req, ctx) {
      const filter = { kindPrefix: req.kindPrefix || undefined, nodeId: optionalUuid("node_id", req.nodeId) };
      // Subscribe first, then replay, then drain live events not already replayed.
      const buffered: FleetEventRecord[] = [];
      let wake: (() => void) | undefined;
      const unsubscribe = deps.events.subscribe(filter, (e) => {
        buffered.push(e);
        wake?.();
      });
      const onAbort = () => wake?.();
      ctx.signal.addEventListener("abort", onAbort);
      try {
        const seen = new Set<string>();
        if (req.since) {
          const replay = await listEvents(deps.db, {
            ...filter,
            since: timestampDate(req.since),
            limit: 1000,
          });
          for (const e of replay) {
            seen.add(e.id);
            yield { event: toProtoEvent(e) };
          }
        }
        while (!ctx.signal.aborted) {
          while (buffered.length > 0) {
            const e = buffered.shift();
            if (!e || seen.has(e.id)) continue;
            yield { event: toProtoEvent(e) };
          }
          seen.clear();
          await new Promise<void>((resolve) => {
            wake = resolve;
            if (buffered.length > 0 || ctx.signal.aborted) resolve();
          });
          wake = undefined;
        }
      } finally {
        unsubscribe();
        ctx.signal.removeEventListener("abort", onAbort);
      }
    },
  };
}
