/**
 * The `sdwan` section of one node, as a pure function of its host bridges, the enabled IPFIX
 * collectors and the nodes it shares networks with: removed bridges are left out, draining ones are
 * listed so the agent takes them down, and only active OVS bridges carry the collectors' targets (a
 * kernel bridge has no IPFIX exporter), their segment address and their tunnels (ovs-segment.ts).
 */
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { SdwanSectionSchema } from "@powernode/proto";
import { type OvsPeer, observationDomain, segmentAddress, tunnelsFor } from "./ovs-segment.ts";
import type { BridgeKind } from "./profile.ts";

/** The bridges part of the section (plain init objects). */
type Section = { bridges: NonNullable<MessageInitShape<typeof SdwanSectionSchema>["bridges"]> };

export interface BridgeView {
  id: string;
  nodeId: string;
  shortId: number;
  name: string;
  kind: BridgeKind;
  state: "active" | "draining" | "removed";
}

export interface CollectorView {
  name: string;
  host: string;
  port: number;
  sampling: number;
}

/** `host:port`, an IPv6 host bracketed. */
export const ipfixTarget = (host: string, port: number): string =>
  `${host.includes(":") ? `[${host}]` : host}:${port}`;

/**
 * The IPFIX export of an OVS bridge: every enabled collector's target, sorted; the smallest sampling
 * among them (OVS has one sampling rate per bridge). Undefined without collectors.
 */
export function ipfixExport(collectors: readonly CollectorView[], nodeId: string) {
  if (collectors.length === 0) return undefined;
  return {
    targets: [...new Set(collectors.map((c) => ipfixTarget(c.host, c.port)))].sort(),
    sampling: Math.min(...collectors.map((c) => c.sampling)),
    observationDomainId: observationDomain(nodeId),
  };
}

/**
 * One bridge as a section (and the API) shows it: on an active OVS bridge only, the IPFIX export,
 * the segment address and the tunnels to `peers`.
 */
export function bridgeEntry(
  b: BridgeView,
  collectors: readonly CollectorView[],
  peers: readonly OvsPeer[] = [],
) {
  const ovs = b.kind === "ovs" && b.state === "active";
  const ipfix = ovs ? ipfixExport(collectors, b.nodeId) : undefined;
  return {
    id: b.id,
    nodeId: b.nodeId,
    shortId: b.shortId,
    name: b.name,
    kind: b.kind,
    state: b.state,
    ...(ipfix ? { ipfix } : {}),
    ...(ovs ? { address: segmentAddress(b.shortId, b.nodeId), tunnels: tunnelsFor(b.shortId, peers) } : {}),
  };
}

export function compileSdwanSection(
  bridges: readonly BridgeView[],
  collectors: readonly CollectorView[],
  peers: readonly OvsPeer[] = [],
): Section {
  return {
    bridges: [...bridges]
      .filter((b) => b.state !== "removed")
      .sort((a, b) => a.shortId - b.shortId)
      .map((b) => bridgeEntry(b, collectors, peers)),
  };
}
