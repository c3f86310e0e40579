/**
 * What the k3s controller writes and runs, from the desired state's `k3s` section: the paths inside
 * the composed root, `/etc/rancher/k3s/config.yaml` and the k3s command line. Pure.
 */
import type { K3sSection } from "@powernode/proto";

/** Where the k3s module puts the binary. */
export const K3S_BINARY = "/usr/local/bin/k3s";
export const CONFIG_PATH = "/etc/rancher/k3s/config.yaml";
/** The cluster token (0600): config.yaml names it (`token-file`), so the secret is not in the config. */
export const TOKEN_PATH = "/etc/rancher/k3s/token";
/** Written by a k3s server once its API server runs. */
export const KUBECONFIG_PATH = "/etc/rancher/k3s/k3s.yaml";
export const SERVER_TOKEN_PATH = "/var/lib/rancher/k3s/server/node-token";
export const AGENT_TOKEN_PATH = "/var/lib/rancher/k3s/server/agent-token";
/** Written by a k3s agent once the server gave it the kubelet's credentials. */
export const AGENT_KUBELET_KUBECONFIG = "/var/lib/rancher/k3s/agent/kubelet.kubeconfig";

type Value = string | boolean | string[];

/** `--key=value` / `--key` k3s flags as config keys (`flannel-backend: none`, `disable-network-policy: true`). */
export function flagsToConfig(flags: readonly string[]): [string, Value][] {
  return flags.map((f) => {
    const m = /^--([a-z0-9-]+)(?:=(.*))?$/.exec(f);
    if (!m?.[1]) throw new Error(`k3s flag ${JSON.stringify(f)} is not --key or --key=value`);
    return [m[1], m[2] ?? true];
  });
}

function yamlValue(v: Value): string {
  if (typeof v === "boolean") return String(v);
  if (typeof v === "string") return JSON.stringify(v);
  return v.map((x) => `\n  - ${JSON.stringify(x)}`).join("");
}

/**
 * The config.yaml of a node's k3s. Servers also get the cluster-wide settings (cluster-init, tls-san,
 * cluster-cidr, flannel-backend, the CNI's flags), which k3s agents do not take.
 */
export function k3sConfigYaml(s: K3sSection): string {
  const entries = new Map<string, Value>();
  const set = (k: string, v: Value | undefined) => {
    if (v === undefined || v === "" || (Array.isArray(v) && v.length === 0)) return;
    entries.set(k, v);
  };
  const server = s.role === "server";
  set("token-file", TOKEN_PATH);
  set("server", s.serverUrl);
  if (server && s.clusterInit) set("cluster-init", true);
  set("node-ip", s.nodeIp);
  set("node-name", s.nodeName);
  set("flannel-iface", s.flannelIface);
  if (server) {
    set("write-kubeconfig-mode", "0600");
    set("tls-san", s.tlsSans);
    set("cluster-cidr", s.clusterCidr);
    set("flannel-backend", s.flannelBackend);
    for (const [k, v] of flagsToConfig(s.cniFlags)) set(k, v);
  }
  const lines = [...entries].map(([k, v]) => `${k}:${Array.isArray(v) ? "" : " "}${yamlValue(v)}`);
  return `# Written by the powernode agent from the desired state (cluster ${s.clusterName}); do not edit.\n${lines.join("\n")}\n`;
}

/** The k3s command line: `k3s server|agent --config /etc/rancher/k3s/config.yaml`. */
export function k3sArgv(role: string): string[] {
  return [K3S_BINARY, role === "server" ? "server" : "agent", "--config", CONFIG_PATH];
}

/** The condition text when the composed root has no k3s binary. */
export const MISSING_BINARY = "missing: k3s binary (set POWERNODE_K3S_BINARY)";
