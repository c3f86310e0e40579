/**
 * The `sdwan` section of one node, as a pure function of its host bridges and the enabled IPFIX
 * collectors: removed bridges are left out, draining ones are listed so the agent takes them down,
 * and only active OVS bridges carry the collectors' targets (a kernel bridge has no IPFIX exporter).
 */
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { SdwanSectionSchema } from "@powernode/proto";
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
export function ipfixExport(collectors: readonly CollectorView[]) {
  if (collectors.length === 0) return undefined;
  return {
    targets: [...new Set(collectors.map((c) => ipfixTarget(c.host, c.port)))].sort(),
    sampling: Math.min(...collectors.map((c) => c.sampling)),
  };
}

/** One bridge as a section (and the API) shows it: the IPFIX export on an active OVS bridge only. */
export function bridgeEntry(b: BridgeView, ipfix: ReturnType<typeof ipfixExport>) {
  return {
    id: b.id,
    nodeId: b.nodeId,
    shortId: b.shortId,
    name: b.name,
    kind: b.kind,
    state: b.state,
    ...(ipfix && b.kind === "ovs" && b.state === "active" ? { ipfix } : {}),
  };
}

export function compileSdwanSection(
  bridges: readonly BridgeView[],
  collectors: readonly CollectorView[],
): Section {
  const ipfix = ipfixExport(collectors);
  return {
    bridges: [...bridges]
      .filter((b) => b.state !== "removed")
      .sort((a, b) => a.shortId - b.shortId)
      .map((b) => bridgeEntry(b, ipfix)),
  };
}
