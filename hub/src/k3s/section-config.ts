/**
 * A node's `k3s` section from its cluster, its node row and its SDWAN peer: what the agent renders into
 * /etc/rancher/k3s/config.yaml. Flannel clusters use the mesh interface (`flannel-iface
 * wg-sdwan-<handle>`); with a pod CIDR lent by the network (flannel over SDWAN) also `host-gw` and
 * `cluster-cidr`. Pure.
 */
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { K3sSectionSchema } from "@powernode/proto";
import { interfaceName } from "../network/addresses.ts";
import { type Cni, k3sInstallFlags } from "./cni.ts";

/** The flannel backend over SDWAN: routes to each node's pod subnet through the overlay. */
export const SDWAN_FLANNEL_BACKEND = "host-gw";

export interface SectionInput {
  cluster: {
    id: string;
    name: string;
    cni: Cni;
    apiEndpoint: string;
    podCidr: string | null;
    version: string | null;
    tokenRevision: number;
    bootstrapNodeId: string | undefined;
  };
  node: { instanceId: string; name: string; role: "server" | "agent" };
  network: { handle: string };
  /** The node's overlay /128, without a length. */
  address: string;
  /** The API VIP, without a length (undefined when the VIP is gone). */
  vip: string | undefined;
}

export type K3sSectionInit = MessageInitShape<typeof K3sSectionSchema>;

/** The flannel settings a cluster gives its nodes (empty strings: k3s' defaults). */
export function flannelSettings(
  cni: Cni,
  podCidr: string | null,
  handle: string,
): { flannelIface: string; flannelBackend: string; clusterCidr: string } {
  if (cni !== "flannel") return { flannelIface: "", flannelBackend: "", clusterCidr: "" };
  const flannelIface = interfaceName(handle);
  if (!podCidr) return { flannelIface, flannelBackend: "", clusterCidr: "" };
  return { flannelIface, flannelBackend: SDWAN_FLANNEL_BACKEND, clusterCidr: podCidr };
}

export function k3sSectionFor(input: SectionInput): K3sSectionInit {
  const { cluster, node } = input;
  const server = node.role === "server";
  const clusterInit = server && cluster.bootstrapNodeId === node.instanceId;
  return {
    enabled: true,
    clusterId: cluster.id,
    clusterName: cluster.name,
    role: node.role,
    clusterInit,
    serverUrl: clusterInit ? "" : cluster.apiEndpoint,
    nodeIp: input.address,
    nodeName: node.name,
    interfaceName: interfaceName(input.network.handle),
    tlsSans: server && input.vip ? [input.vip] : [],
    cni: cluster.cni,
    ...flannelSettings(cluster.cni, cluster.podCidr, input.network.handle),
    cniFlags: k3sInstallFlags(cluster.cni),
    version: cluster.version ?? "",
    tokenRevision: String(cluster.tokenRevision),
  };
}
