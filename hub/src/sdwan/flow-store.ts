/**
 * What the hub's IPFIX collector has received, in memory: each datagram decoded (ipfix-decode.ts) with
 * its exporter's templates, attributed to a node by its observation domain (ovs-segment.ts), counted
 * per node with the latest 50 records kept. One store per hub (flowStoreOf); restarting the hub
 * starts the counts again (flow records are telemetry, not state: the fleet event log is the record).
 * Exporters are untrusted: a bad datagram is counted and dropped, and the template caches are bounded
 * (exporters, domains per exporter and templates: ipfix-decode.ts).
 */
import type { Deps } from "../deps.ts";
import { nodesWithOvsBridges } from "./bridges.ts";
import { decodeMessage, type Flow, IpfixError, TemplateCache } from "./ipfix-decode.ts";
import { observationDomain } from "./ovs-segment.ts";

export const RECENT_PER_NODE = 50;
/** Exporters whose templates are kept (the oldest is dropped beyond this). */
export const MAX_EXPORTERS = 256;
/** An unknown domain re-reads the nodes at most this often. */
const RESOLVE_EVERY_MS = 2000;
/** Known domains are re-read this often. */
const REFRESH_MS = 30_000;

export interface NodeFlows {
  nodeId: string;
  observationDomainId: number;
  exporter: string;
  messages: number;
  records: number;
  packets: bigint;
  octets: bigint;
  lastMessageAt: Date;
  /** Newest first. */
  recent: (Flow & { receivedAt: Date })[];
}

export interface FlowStore {
  /** `host:port` the receiver listens on ("" when it is off). */
  listen: string;
  /** One datagram from `exporter` (`address:port`). Never throws. */
  ingest(bytes: Uint8Array, exporter: string): Promise<void>;
  nodes(nodeId?: string): NodeFlows[];
  counters(): { messages: number; rejected: number; unknownDomain: number };
}

export function createFlowStore(
  resolveDomain: (domain: number) => Promise<string | undefined>,
  now: () => Date = () => new Date(),
): FlowStore {
  const caches = new Map<string, TemplateCache>();
  const byNode = new Map<string, NodeFlows>();
  const counts = { messages: 0, rejected: 0, unknownDomain: 0 };
  const cacheOf = (exporter: string) => {
    let c = caches.get(exporter);
    if (c) return c;
    c = new TemplateCache();
    caches.set(exporter, c);
    if (caches.size > MAX_EXPORTERS) caches.delete(caches.keys().next().value as string);
    return c;
  };
  return {
    listen: "",
    async ingest(bytes, exporter) {
      counts.messages++;
      let msg: ReturnType<typeof decodeMessage>;
      try {
        msg = decodeMessage(bytes, cacheOf(exporter));
      } catch (err) {
        if (!(err instanceof IpfixError)) throw err;
        counts.rejected++;
        return;
      }
      if (msg.unknownSets.length > 0 || msg.templatesRefused > 0) counts.rejected++;
      // Domain 0: the exporter's own statistics (OVS), no bridge's.
      if (msg.domain === 0) return;
      const nodeId = await resolveDomain(msg.domain);
      if (!nodeId) {
        counts.unknownDomain++;
        return;
      }
      const at = now();
      const n = byNode.get(nodeId) ?? {
        nodeId,
        observationDomainId: msg.domain,
        exporter,
        messages: 0,
        records: 0,
        packets: 0n,
        octets: 0n,
        lastMessageAt: at,
        recent: [],
      };
      n.exporter = exporter;
      n.messages++;
      n.lastMessageAt = at;
      for (const f of msg.flows) {
        n.records++;
        n.packets += f.packets;
        n.octets += f.octets;
      }
      const newest = msg.flows
        .slice(-RECENT_PER_NODE)
        .reverse()
        .map((f) => ({ ...f, receivedAt: at }));
      n.recent = [...newest, ...n.recent].slice(0, RECENT_PER_NODE);
      byNode.set(nodeId, n);
    },
    nodes: (nodeId) =>
      [...byNode.values()]
        .filter((n) => nodeId === undefined || n.nodeId === nodeId)
        .sort((a, b) => a.nodeId.localeCompare(b.nodeId)),
    counters: () => ({ ...counts }),
  };
}

/** Observation domain -> node, from the nodes with an active OVS bridge (re-read on a miss). */
export function domainResolver(deps: Pick<Deps, "db">): (domain: number) => Promise<string | undefined> {
  let map = new Map<number, string>();
  let readAt = 0;
  /** The read in flight: datagrams arriving meanwhile wait for it instead of counting as unknown. */
  let reading: Promise<void> | undefined;
  const read = () => {
    reading ??= (async () => {
      try {
        map = new Map((await nodesWithOvsBridges(deps.db)).map((n) => [observationDomain(n), n]));
        readAt = Date.now();
      } finally {
        reading = undefined;
      }
    })();
    return reading;
  };
  return async (domain) => {
    if (reading) await reading;
    const hit = map.get(domain);
    // A hit is trusted for REFRESH_MS (a node whose OVS bridge went stops being credited then).
    if (hit ? Date.now() - readAt < REFRESH_MS : Date.now() - readAt < RESOLVE_EVERY_MS) return hit;
    await read();
    return map.get(domain);
  };
}

const stores = new WeakMap<object, FlowStore>();

/** The hub's one flow store (keyed by its deps). */
export function flowStoreOf(deps: Pick<Deps, "db">): FlowStore {
  let s = stores.get(deps);
  if (!s) {
    s = createFlowStore(domainResolver(deps));
    stores.set(deps, s);
  }
  return s;
}
