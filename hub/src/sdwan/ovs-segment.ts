/**
 * The L2 segments OVS bridges form across the mesh, as pure functions: `pwnbr-<n>` of every node is
 * segment n. An active OVS bridge gets an address in its segment's ULA /64 (its internal interface)
 * and a VXLAN port (VNI n) to the same-numbered active OVS bridge of each node it shares an overlay
 * network with, over the first such network (by id). Its IPFIX export names an observation domain
 * derived from the node's id, which is how the hub's collector tells which node exported a message.
 */
import { createHash } from "node:crypto";
import { formatIpv6 } from "../network/addresses.ts";
import { hashGroups } from "../network/router-address.ts";

/** A node sharing a network with this one, and the short ids of its active OVS bridges. */
export interface OvsPeer {
  nodeId: string;
  networkId: string;
  /** This node's overlay address in that network. */
  localIp: string;
  /** The peer's overlay address in it. */
  remoteIp: string;
  ovsShortIds: readonly number[];
}

/** The address of node `nodeId`'s bridge `pwnbr-<shortId>` in its segment, with its length (/64). */
export function segmentAddress(shortId: number, nodeId: string): string {
  const [a = 0, b = 0, c = 0] = hashGroups("bridge-segment", 3);
  const host = hashGroups(`bridge-address:${nodeId}`, 4);
  if (!host.some((g) => g !== 0)) host[3] = 1;
  return `${formatIpv6([0xfd00 | (a & 0xff), b, c, shortId & 0xffff, ...host])}/64`;
}

/** The OVS interface name of the tunnel from bridge `shortId` to `peerNodeId`: `vx` + 12 hex digits. */
export const tunnelName = (shortId: number, peerNodeId: string): string =>
  `vx${createHash("sha256").update(`${shortId}:${peerNodeId}`).digest("hex").slice(0, 12)}`;

/** One peer per node (its first shared network by id), sorted by node id. */
export function uniquePeers(peers: readonly OvsPeer[]): OvsPeer[] {
  const byNode = new Map<string, OvsPeer>();
  for (const p of [...peers].sort((x, y) => x.networkId.localeCompare(y.networkId)))
    if (!byNode.has(p.nodeId)) byNode.set(p.nodeId, p);
  return [...byNode.values()].sort((x, y) => x.nodeId.localeCompare(y.nodeId));
}

/** The tunnels of bridge `shortId`: to each peer with an active OVS bridge of that short id. */
export function tunnelsFor(shortId: number, peers: readonly OvsPeer[]) {
  return uniquePeers(peers)
    .filter((p) => p.ovsShortIds.includes(shortId))
    .map((p) => ({
      name: tunnelName(shortId, p.nodeId),
      remoteIp: p.remoteIp,
      localIp: p.localIp,
      key: shortId,
      peerNodeId: p.nodeId,
      networkId: p.networkId,
    }));
}

/** A node's IPFIX observation domain: 32 bits of sha256 of its id, never 0 (the exporter's own). */
export function observationDomain(nodeId: string): number {
  const d = createHash("sha256").update(`ipfix-domain:${nodeId}`).digest().readUInt32BE(0);
  return d === 0 ? 1 : d;
}
