/** A k3s section for the k3s controller's tests: the initialising server of a flannel cluster. */
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { type K3sSection, K3sSectionSchema } from "@powernode/proto";

export function serverSection(over: MessageInitShape<typeof K3sSectionSchema> = {}): K3sSection {
  return create(K3sSectionSchema, {
    enabled: true,
    clusterId: "0b5c4a1e-0000-4000-8000-000000000001",
    clusterName: "lab-k8s",
    role: "server",
    clusterInit: true,
    nodeIp: "fd00:1:2:3::5",
    nodeName: "srv",
    interfaceName: "wg-sdwan-abc123",
    tlsSans: ["fd00:1:2:3:dead:beef:0:1234"],
    cni: "flannel",
    flannelIface: "wg-sdwan-abc123",
    tokenRevision: "1",
    ...over,
  });
}
