/** `pnctl k3s ...`: K3s clusters, their nodes and kubeconfig, network profiles and pod subnet prefixes. */
import { timestampDate } from "@bufbuild/protobuf/wkt";
import type { K3sCluster } from "@powernode/proto";
import { K3sService } from "@powernode/proto";
import { flag } from "./args.ts";
import { type CommandGroup, fields, required, table, unknownVerb } from "./shared.ts";

function clusterView(c: K3sCluster | undefined) {
  return {
    id: c?.id ?? "",
    name: c?.name ?? "",
    status: c?.status ?? "",
    cni: c?.cni ?? "",
    version: c?.version ?? "",
    apiEndpoint: c?.apiEndpoint ?? "",
    podCidr: c?.podCidr ?? "",
    nodes: c?.nodeCount ?? 0,
    kubeconfig: c?.hasKubeconfig ? "stored" : "not yet",
  };
}

export const k3sCommands: CommandGroup = {
  name: "k3s",
  usage: `  k3s ls
  k3s create NODE [--name NAME] [--cni flannel|ovn_kubernetes] [--network NET]   (NODE: the first server)
  k3s show|nodes|kubeconfig|rm CLUSTER
  k3s add CLUSTER NODE [--role agent|server]
  k3s drain CLUSTER NODE [--reason TEXT]   (before terminating the node: its k3s node disconnected)
  k3s profile NODE heavyweight|lightweight|none
  k3s pod-prefix NET CIDR|none     (the pod CIDR the network lends its flannel clusters)
  k3s cni NODE                     (the CNI the node runs, and why)`,
  async run(ctx) {
    const k3s = ctx.client(K3sService);
    switch (ctx.verb) {
      case "ls": {
        const rows = (await k3s.listClusters({})).clusters.map(clusterView);
        ctx.print(rows, () =>
          table([
            ["NAME", "STATUS", "CNI", "VERSION", "NODES", "API"],
            ...rows.map((r) => [r.name, r.status, r.cni, r.version || "-", String(r.nodes), r.apiEndpoint]),
          ]),
        );
        return 0;
      }
      case "create": {
        const { cluster } = await k3s.createCluster({
          nodeId: required(ctx, 0, "NODE"),
          name: flag(ctx.args, "name") ?? "",
          cni: flag(ctx.args, "cni") ?? "",
          network: flag(ctx.args, "network") ?? "",
        });
        const view = clusterView(cluster);
        ctx.print(view, () => fields(view));
        return 0;
      }
      case "show": {
        const { cluster } = await k3s.getCluster({ cluster: required(ctx, 0, "CLUSTER") });
        const view = { ...clusterView(cluster), apiVip: cluster?.apiVip ?? "" };
        const events = (cluster?.bootstrapEvents ?? []).map((e) => `${e.phase} ${e.status}: ${e.message}`);
        ctx.print({ ...view, bootstrapEvents: events }, () => [
          ...fields(view),
          ...events.map((e) => `  ${e}`),
        ]);
        return 0;
      }
      case "nodes": {
        const rows = (await k3s.listClusterNodes({ cluster: required(ctx, 0, "CLUSTER") })).nodes.map(
          (n) => ({
            node: n.nodeId,
            name: n.name,
            role: n.role,
            status: n.status,
            version: n.version,
            drainedAt: n.drainedAt ? timestampDate(n.drainedAt).toISOString() : "",
          }),
        );
        ctx.print(rows, () =>
          table([
            ["NODE", "NAME", "ROLE", "STATUS", "VERSION", "DRAINED"],
            ...rows.map((r) => [
              r.node.slice(0, 8),
              r.name,
              r.role,
              r.status,
              r.version || "-",
              r.drainedAt || "-",
            ]),
          ]),
        );
        return 0;
      }
      case "kubeconfig": {
        const k = await k3s.getKubeconfig({ cluster: required(ctx, 0, "CLUSTER") });
        ctx.print(k, () =>
          k.kubeconfig ? k.kubeconfig.replace(/\n$/, "").split("\n") : ["(no kubeconfig yet)"],
        );
        return 0;
      }
      case "rm": {
        const r = await k3s.decommissionCluster({ cluster: required(ctx, 0, "CLUSTER") });
        ctx.print(r, () => [`decommissioned ${r.clusterId}: ${r.freedNodeCount} node(s) freed`]);
        return 0;
      }
      case "add": {
        const { node } = await k3s.addNode({
          cluster: required(ctx, 0, "CLUSTER"),
          nodeId: required(ctx, 1, "NODE"),
          role: flag(ctx.args, "role") ?? "",
        });
        const view = { node: node?.nodeId ?? "", role: node?.role ?? "", status: node?.status ?? "" };
        ctx.print(view, () => fields(view));
        return 0;
      }
      case "drain": {
        const r = await k3s.drainNode({
          cluster: required(ctx, 0, "CLUSTER"),
          nodeId: required(ctx, 1, "NODE"),
          reason: flag(ctx.args, "reason") ?? "",
        });
        const view = {
          node: r.node?.nodeId ?? "",
          name: r.node?.name ?? "",
          role: r.node?.role ?? "",
          status: r.node?.status ?? "",
          clusterStatus: r.clusterStatus,
        };
        ctx.print(view, () => fields(view));
        return 0;
      }
      case "profile": {
        const v = required(ctx, 1, "heavyweight|lightweight|none");
        const r = await k3s.setNetworkProfile({
          nodeId: required(ctx, 0, "NODE"),
          profile: v === "none" ? "" : v,
        });
        ctx.print(r, () => [`network profile: ${r.profile || "unknown"}`]);
        return 0;
      }
      case "pod-prefix": {
        const v = required(ctx, 1, "CIDR|none");
        const r = await k3s.setPodSubnetPrefix({
          network: required(ctx, 0, "NET"),
          prefix: v === "none" ? "" : v,
        });
        ctx.print(r, () => [`pod subnet prefix: ${r.prefix || "none"}`]);
        return 0;
      }
      case "cni": {
        const r = await k3s.getNodeCni({ nodeId: required(ctx, 0, "NODE") });
        ctx.print(r, () => [`${r.cni} (${r.source})`]);
        return 0;
      }
      default:
        return unknownVerb(ctx, k3sCommands);
    }
  },
};
