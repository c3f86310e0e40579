import { describe, expect, test } from "bun:test";
import { create } from "@bufbuild/protobuf";
import { K3sSectionSchema } from "@powernode/proto";
import { serverSection } from "../../../test/k3s-fixtures.ts";
import { flagsToConfig, k3sArgv, k3sConfigYaml } from "./k3s-config.ts";

const server = serverSection({ flannelBackend: "host-gw", clusterCidr: "10.42.0.0/16" });

describe("k3s config.yaml", () => {
  test("the initialising server with flannel over SDWAN", () => {
    expect(k3sConfigYaml(server)).toBe(
      [
        "# Written by the powernode agent from the desired state (cluster lab-k8s); do not edit.",
        'token-file: "/etc/rancher/k3s/token"',
        "cluster-init: true",
        'node-ip: "fd00:1:2:3::5"',
        'node-name: "srv"',
        'flannel-iface: "wg-sdwan-abc123"',
        'write-kubeconfig-mode: "0600"',
        'tls-san:\n  - "fd00:1:2:3:dead:beef:0:1234"',
        'cluster-cidr: "10.42.0.0/16"',
        'flannel-backend: "host-gw"',
        "",
      ].join("\n"),
    );
  });

  test("an agent: the server URL, no server-only keys", () => {
    const agent = create(K3sSectionSchema, {
      ...server,
      role: "agent",
      clusterInit: false,
      serverUrl: "https://[fd00:1:2:3:dead:beef:0:1234]:6443",
    });
    const yaml = k3sConfigYaml(agent);
    expect(yaml).toContain('server: "https://[fd00:1:2:3:dead:beef:0:1234]:6443"\n');
    for (const k of ["cluster-init", "tls-san", "cluster-cidr", "flannel-backend", "write-kubeconfig-mode"])
      expect(yaml).not.toContain(`${k}:`);
  });

  test("ovn_kubernetes: exactly the two flags as keys", () => {
    const ovn = create(K3sSectionSchema, {
      ...server,
      cni: "ovn_kubernetes",
      flannelIface: "",
      flannelBackend: "",
      clusterCidr: "",
      cniFlags: ["--flannel-backend=none", "--disable-network-policy"],
    });
    const yaml = k3sConfigYaml(ovn);
    expect(yaml).toEndWith('flannel-backend: "none"\ndisable-network-policy: true\n');
    expect(yaml).not.toContain("flannel-iface");
  });

  test("flags and argv", () => {
    expect(flagsToConfig(["--a=b", "--c"])).toEqual([
      ["a", "b"],
      ["c", true],
    ]);
    expect(() => flagsToConfig(["-x"])).toThrow(/is not --key/);
    expect(k3sArgv("server")).toEqual([
      "/usr/local/bin/k3s",
      "server",
      "--config",
      "/etc/rancher/k3s/config.yaml",
    ]);
    expect(k3sArgv("agent")[1]).toBe("agent");
  });
});
