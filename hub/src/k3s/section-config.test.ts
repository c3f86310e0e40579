import { describe, expect, test } from "bun:test";
import { flannelSettings, k3sSectionFor, type SectionInput } from "./section-config.ts";

const base: SectionInput = {
  cluster: {
    id: "c1",
    name: "lab-k8s",
    cni: "flannel",
    apiEndpoint: "https://[fd00:1:2:3:dead:beef:0:1234]:6443",
    podCidr: "10.42.0.0/16",
    version: "v1.30.4+k3s1",
    tokenRevision: 2,
    bootstrapNodeId: "n1",
  },
  node: { instanceId: "n1", name: "srv", role: "server" },
  network: { handle: "abc123" },
  address: "fd00:1:2:3::5",
  vip: "fd00:1:2:3:dead:beef:0:1234",
};

describe("k3s section", () => {
  test("the initialising server: no server URL, the VIP as tls-san, flannel over SDWAN", () => {
    expect(k3sSectionFor(base)).toEqual({
      enabled: true,
      clusterId: "c1",
      clusterName: "lab-k8s",
      role: "server",
      clusterInit: true,
      serverUrl: "",
      nodeIp: "fd00:1:2:3::5",
      nodeName: "srv",
      interfaceName: "wg-sdwan-abc123",
      tlsSans: ["fd00:1:2:3:dead:beef:0:1234"],
      cni: "flannel",
      flannelIface: "wg-sdwan-abc123",
      flannelBackend: "host-gw",
      clusterCidr: "10.42.0.0/16",
      cniFlags: [],
      version: "v1.30.4+k3s1",
      tokenRevision: "2",
    });
  });

  test("an agent joins the API VIP and has no tls-san", () => {
    const s = k3sSectionFor({ ...base, node: { instanceId: "n2", name: "w", role: "agent" } });
    expect(s.clusterInit).toBe(false);
    expect(s.serverUrl).toBe("https://[fd00:1:2:3:dead:beef:0:1234]:6443");
    expect(s.tlsSans).toEqual([]);
  });

  test("ovn_kubernetes: no flannel settings, the two flags", () => {
    const s = k3sSectionFor({ ...base, cluster: { ...base.cluster, cni: "ovn_kubernetes", podCidr: null } });
    expect([s.flannelIface, s.flannelBackend, s.clusterCidr]).toEqual(["", "", ""]);
    expect(s.cniFlags).toEqual(["--flannel-backend=none", "--disable-network-policy"]);
  });

  test("flannel without a pod CIDR keeps k3s' backend and CIDR", () => {
    expect(flannelSettings("flannel", null, "abc123")).toEqual({
      flannelIface: "wg-sdwan-abc123",
      flannelBackend: "",
      clusterCidr: "",
    });
  });
});
