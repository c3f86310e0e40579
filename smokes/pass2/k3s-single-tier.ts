/**
 * Pass 2, single tier, K3s on a booted QEMU node: a cluster around the node, then what the node's k3s
 * controller made, read back through the agent: `/etc/rancher/k3s/config.yaml` must equal the expected
 * file (written here from the cluster's values, not by the agent's renderer) and the token file must
 * hold the cluster token; the controller's condition says whether k3s can run. With
 * POWERNODE_K3S_BINARY set, the k3s module is built from it, published, assigned, and the server must
 * bootstrap its cluster; unset, those live checks print `missing: k3s binary` and fail unless
 * `--allow-missing`.
 *
 * The node must run with `powernode.debug=1` (the debug read hooks), have modules mounted (a composed
 * root) and be a member of `network`. The checks set the node's debug spec and clear it at the end.
 */
import { createHash } from "node:crypto";
import { join } from "node:path";
import { setDebugSpec } from "@powernode/hub";
import { type FleetEvent, K3sService } from "@powernode/proto";
import { eq } from "drizzle-orm";
import { k3sSecretContext } from "../../hub/src/ca/stored-keys.ts";
import { k3sClusters } from "../../hub/src/db/schema/index.ts";
import { buildK3sModule, K3S_BINARY_ENV } from "../../hub/src/modules/k3s-module.ts";
import { publishModule } from "../../hub/src/modules/publish.ts";
import { MODULES_DIR } from "../../hub/src/modules/recipe.ts";
import { operatorClient } from "../../hub/test/harness.ts";
import type { PassContext } from "../lib/pass.ts";
import type { SingleNode } from "../lib/single-node.ts";
import { waitFor } from "../lib/wait.ts";
import { expectEqual } from "./k3s-env.ts";

const CONFIG = "/etc/rancher/k3s/config.yaml";
const TOKEN = "/etc/rancher/k3s/token";
export const MISSING_K3S = "missing: k3s binary (set POWERNODE_K3S_BINARY)";
const WAIT_MS = 180_000;
/** A k3s server's first start under TCG: unpacking its userspace, etcd, the API server. */
const BOOTSTRAP_WAIT_MS = 900_000;

export interface K3sSingleOptions {
  arch: "amd64" | "arm64";
  /** The network (name) the node is a member of: its overlay address and the API VIP come from it. */
  network: string;
  /**
   * Adds the k3s module to the node's modules, keeping the ones it runs (default: AssignModules with
   * k3s alone, which replaces the node's own assignment but not its template's).
   */
  assignModule?(m: { name: string; version: string }): Promise<void>;
}

/** The config.yaml the k3s controller must write for the initialising server of a flannel cluster. */
export function expectedServerConfig(v: {
  cluster: string;
  address: string;
  nodeName: string;
  handle: string;
  vip: string;
}): string {
  return [
    `# Written by the powernode agent from the desired state (cluster ${v.cluster}); do not edit.`,
    `token-file: "${TOKEN}"`,
    "cluster-init: true",
    `node-ip: "${v.address}"`,
    `node-name: "${v.nodeName}"`,
    `flannel-iface: "wg-sdwan-${v.handle}"`,
    'write-kubeconfig-mode: "0600"',
    `tls-san:\n  - "${v.vip}"`,
    "",
  ].join("\n");
}

const sha256 = (s: string) => createHash("sha256").update(s, "utf8").digest("hex");

export async function k3sSingleChecks(
  t: PassContext,
  node: Pick<SingleNode, "hub" | "instanceId" | "serialLog">,
  opts: K3sSingleOptions,
): Promise<void> {
  const s = node.hub;
  const id = node.instanceId;
  const k3s = operatorClient(s.hub, K3sService);
  const events = async (kind: string): Promise<FleetEvent[]> =>
    (await s.fleet.listEvents({ nodeId: id, kindPrefix: kind, limit: 1000 })).events.filter(
      (e) => e.kind === kind,
    );
  const k3sCondition = async () => {
    const last = (await events("system.agent.conditions")).at(-1);
    const list = (last?.payload?.conditions ?? []) as { type?: string; reason?: string; message?: string }[];
    return list.find((c) => c.type === "k3s");
  };

  const cluster = await t.step("CreateCluster around the node (flannel)", async () => {
    const c = (await k3s.createCluster({ nodeId: id, name: `single-k8s-${Date.now().toString(36)}` }))
      .cluster;
    if (!c) throw new Error("CreateCluster returned no cluster");
    t.defer(() =>
      k3s.decommissionCluster({ cluster: c.id }).then(
        () => undefined,
        () => undefined,
      ),
    );
    return c;
  });
  const network = (await s.network.getNetwork({ network: opts.network })).network;
  const member = (await s.network.listMembers({ network: opts.network })).members.find(
    (m) => m.nodeId === id,
  );
  const nodeName = (await s.fleet.getNode({ id })).node?.name ?? "";
  const expected = expectedServerConfig({
    cluster: cluster.name,
    address: member?.address ?? "",
    nodeName,
    handle: network?.handle ?? "",
    vip: cluster.apiVip,
  });

  await t.check(
    "the k3s controller wrote config.yaml (system.k3s.config_written, sha256 of the expected file)",
    () =>
      waitFor(
        "system.k3s.config_written from the node",
        async () => {
          const e = (await events("system.k3s.config_written")).find(
            (x) => x.payload?.clusterId === cluster.id,
          );
          return e ? expectEqual("sha256", e.payload?.sha256, sha256(expected)) : undefined;
        },
        { timeoutMs: WAIT_MS, intervalMs: 1000 },
      ),
  );
  const reads = new Map<string, Record<string, unknown>>();
  await t.step("debug reads of config.yaml and the token file through the agent", async () => {
    await setDebugSpec(s.hub.deps, id, { read: [{ path: CONFIG }, { path: TOKEN }] });
    await waitFor(
      "system.debug.read of both files",
      async () => {
        for (const e of await events("system.debug.read"))
          if (e.payload?.path === CONFIG || e.payload?.path === TOKEN)
            reads.set(e.payload.path as string, e.payload as Record<string, unknown>);
        return reads.size === 2 ? true : undefined;
      },
      { timeoutMs: WAIT_MS, intervalMs: 1000 },
    );
  });
  t.defer(async () => {
    await setDebugSpec(s.hub.deps, id, undefined);
  });
  await t.check("config.yaml on the node equals the expected one (read back through the agent)", () => {
    const r = reads.get(CONFIG);
    expectEqual(
      "read",
      [r?.result, r?.size, r?.sha256],
      ["ok", Buffer.byteLength(expected), sha256(expected)],
    );
    return `${r?.size} bytes, sha256 ${String(r?.sha256).slice(0, 12)}..`;
  });
  await t.check("the token file holds the cluster token (config.yaml only names it)", async () => {
    const [row] = await s.hub.deps.db.select().from(k3sClusters).where(eq(k3sClusters.id, cluster.id));
    const token = s.hub.deps.keys.open(row?.serverToken ?? "", k3sSecretContext(cluster.id, "server-token"));
    expectEqual("token file sha256", reads.get(TOKEN)?.sha256, sha256(`${token}\n`));
    if (expected.includes(token)) throw new Error("the token is in config.yaml");
    return "sha256 equal";
  });

  const binary = process.env[K3S_BINARY_ENV];
  const live = [
    "the k3s server runs from the k3s module and bootstraps its cluster (active)",
    "the node reported its kubeconfig and a K10 node-token",
  ];
  if (!binary) {
    await t.check(`the k3s controller says "${MISSING_K3S}" (it never pretends)`, () =>
      waitFor(
        "the k3s condition",
        async () => {
          const c = await k3sCondition();
          return c?.message === MISSING_K3S ? `${c.reason}: ${c.message}` : undefined;
        },
        { timeoutMs: WAIT_MS, intervalMs: 1000 },
      ),
    );
    for (const name of live) {
      if (t.args.allowMissing) t.info(`${MISSING_K3S}: not run (--allow-missing): ${name}`);
      else
        await t.check(name, () => {
          throw new Error(MISSING_K3S);
        });
    }
    return;
  }
  const built = await t.step(`k3s module built from ${binary} and published`, async () => {
    const b = await buildK3sModule({
      binary,
      arch: opts.arch,
      outDir: join(MODULES_DIR, ".out", `k3s-${opts.arch}`),
    });
    await publishModule(b, {
      registryUrl: s.hub.httpUrl,
      hubUrl: s.hub.httpUrl,
      token: s.hub.adminToken,
      description: "k3s",
    });
    const m = { name: "k3s", version: b.manifest.version };
    if (opts.assignModule) await opts.assignModule(m);
    else await s.provision.assignModules({ instanceId: id, modules: [m] });
    return b;
  });
  await t.check(live[0] as string, () =>
    waitFor(
      `cluster ${cluster.name} active (serial log ${node.serialLog})`,
      async () => {
        const c = (await k3s.getCluster({ cluster: cluster.id })).cluster;
        return c?.status === "active" ? `${c.status}, k3s ${c.version}` : undefined;
      },
      { timeoutMs: BOOTSTRAP_WAIT_MS, intervalMs: 5000 },
    ),
  );
  await t.check(live[1] as string, async () => {
    const [row] = await s.hub.deps.db.select().from(k3sClusters).where(eq(k3sClusters.id, cluster.id));
    const token = s.hub.deps.keys.open(row?.serverToken ?? "", k3sSecretContext(cluster.id, "server-token"));
    if (!row?.kubeconfig || !token.startsWith("K10"))
      throw new Error(`kubeconfig ${!!row?.kubeconfig}, token ${token.slice(0, 3)}`);
    return `version ${row.version} (module ${built.manifest.version})`;
  });
}
