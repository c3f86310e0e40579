/**
 * Pass 4's full tier: a hub on a QEMU node. Hub A (this process, with the QEMU provider) publishes
 * system-base, postgresql and powernode-hub (the hub compiled into one binary) and boots a persistent
 * node H from a `powernode-hub` template whose module environment configures the hub (admin token,
 * names, the URL its nodes use). The agent on H runs PostgreSQL and the hub as module services. From
 * the host: H's CA (offered by Hello) matches the fingerprint H printed on its serial console, /healthz
 * says postgres, ListNodes answers; H enrolls a second QEMU node of its own (provider "none" on H, the VM
 * started here with H's bootstrap token); A and H federate over mutual TLS, read each other's fleet
 * summary, and A's revocation refuses H's next call.
 *
 * Networking is QEMU user networking: host 127.0.0.1:<op> and :<mtls> forward to H's 8080 and 8443;
 * every guest reaches the host as 10.0.2.2, so H's nodes use https://10.0.2.2:<mtls>.
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Code } from "@connectrpc/connect";
import { type Node, NodeState, PeerState } from "@powernode/proto";
import { cliAt } from "../../hub/src/cli/test-cli.ts";
import { helloClient } from "../../hub/src/federation/peer-client.ts";
import { caFingerprint } from "../../hub/src/federation/token.ts";
import { buildHubModule, builtModuleDir, MODULES_DIR, publishModule } from "../../hub/src/modules/index.ts";
import { compileHubBuild } from "../../initramfs/index.ts";
import { freePort } from "../../scripts/lib/postgres.ts";
import { buildModules, publishModules } from "../lib/built-modules.ts";
import { operatorClients, type SmokeHub } from "../lib/hub.ts";
import type { PassContext } from "../lib/pass.ts";
import { refusal } from "../lib/refusal.ts";
import { bootSingleNode, smokeQemuProvider } from "../lib/single-node.ts";
import { waitFor } from "../lib/wait.ts";

/** Under TCG: the node boots, mounts ~220 MB of modules, makes its PostgreSQL cluster, starts the hub. */
const HUB_UP_TIMEOUT_MS = 420_000;

/** pnctl against a hub that is not in this process: URL, token and CA file given. */
function remotePnctl(url: string, token: string, caFile: string, env: Record<string, string> = {}) {
  return cliAt(url, { POWERNODE_TOKEN: token, POWERNODE_CA_FILE: caFile, ...env });
}

/** Compiles the hub for amd64 and builds the powernode-hub module, versioned by the binary's digest. */
async function hubModule(t: PassContext) {
  return t.step("compile the hub and build the powernode-hub module", async () => {
    const binDir = join(MODULES_DIR, ".out", "powernode-hub-bin-amd64");
    const binary = await compileHubBuild({ arch: "amd64", outDir: binDir });
    const built = await buildHubModule({
      binary,
      arch: "amd64",
      outDir: builtModuleDir(join(MODULES_DIR, ".out"), "powernode-hub", "amd64"),
    });
    t.info(
      `powernode-hub ${built.manifest.version}: blob ${(built.manifest.sizes.blob / 2 ** 20).toFixed(1)} MiB`,
    );
    return built;
  });
}

export async function runHubOnNode(t: PassContext): Promise<void> {
  const base = await buildModules(t, "amd64", ["system-base", "postgresql"]);
  const hubMod = await hubModule(t);
  const opPort = await freePort();
  const mtlsPort = await freePort();
  const adminToken = `pna_${randomBytes(24).toString("hex")}`;
  const nodeUrl = `https://10.0.2.2:${mtlsPort}`;
  const env = {
    POWERNODE_ADMIN_TOKEN: adminToken,
    POWERNODE_HOSTNAMES: "10.0.2.2,127.0.0.1",
    POWERNODE_NODE_URL: nodeUrl,
    POWERNODE_IPFIX_PORT: "off",
  };

  const h = await bootSingleNode(t, {
    arch: "amd64",
    name: "hub-node",
    memoryMib: 2048,
    persistent: true,
    template: "powernode-hub",
    provider: {
      hostForwards: () => [
        { proto: "tcp", hostPort: opPort, guestPort: 8080 },
        { proto: "tcp", hostPort: mtlsPort, guestPort: 8443 },
      ],
    },
    beforeCreate: async (a: SmokeHub) => {
      await publishModules(a, base);
      await publishModule(hubMod, {
        registryUrl: a.hub.httpUrl,
        hubUrl: a.hub.httpUrl,
        token: a.hub.adminToken,
      });
      await a.provision.createTemplate({
        name: "powernode-hub",
        modules: [
          { name: "system-base", version: "", env: {} },
          { name: "postgresql", version: "", env: {} },
          { name: "powernode-hub", version: hubMod.manifest.version, env },
        ],
      });
    },
  });
  const a = h.hub;
  const opUrl = `https://127.0.0.1:${opPort}`;
  const hMtlsFromHost = `https://127.0.0.1:${mtlsPort}`;

  // H's CA: offered (unverified) by Hello, checked against what H printed on its console.
  const started = performance.now();
  const caPem = await t.step(
    "the hub on H answers Hello; its CA matches the fingerprint on H's console",
    () =>
      waitFor(
        `Hello on ${hMtlsFromHost} and "CA sha256" in ${h.serialLog}`,
        async () => {
          const printed = /\[powernode-hub\/hub\]\s+CA sha256\s+([0-9a-f]{64})/.exec(
            readFileSync(h.serialLog, "utf8"),
          )?.[1];
          if (!printed) return undefined;
          const hello = await helloClient(hMtlsFromHost)
            .hello({})
            .catch(() => undefined);
          if (!hello) return undefined;
          if (caFingerprint(hello.caPem) !== printed)
            throw new Error(`Hello offers CA ${caFingerprint(hello.caPem)}, H's console printed ${printed}`);
          return hello.caPem;
        },
        { timeoutMs: HUB_UP_TIMEOUT_MS, intervalMs: 1000 },
      ),
  );
  t.info(
    `the hub on H answered ${((performance.now() - started) / 1000).toFixed(1)} s after H was RUNNING on A`,
  );
  const caDir = join(t.outDir, "hub-on-node");
  mkdirSync(caDir, { recursive: true });
  const caFile = join(caDir, "ca.pem");
  writeFileSync(caFile, caPem);
  const onH = operatorClients(opUrl, adminToken, caPem);
  const pnctlH = remotePnctl(opUrl, adminToken, caFile);

  await t.check("H /healthz from the host (its CA trusted): ok, database postgres", async () => {
    const r = await fetch(`${opUrl}/healthz`, { tls: { ca: caPem } });
    const body = (await r.json()) as { status?: string; database?: string };
    if (r.status !== 200 || body.status !== "ok" || body.database !== "postgres")
      throw new Error(`${r.status} ${JSON.stringify(body)}`);
    return JSON.stringify(body);
  });
  await t.check("ListNodes on H with the template's admin token: no nodes yet", async () => {
    const nodes = (await onH.fleet.listNodes({})).nodes;
    if (nodes.length !== 0) throw new Error(`${nodes.length} nodes`);
    const anon = await refusal(operatorClients(opUrl, "pna_wrongwrongwrongwrong", caPem).fleet.listNodes({}));
    if (anon.code !== Code.Unauthenticated) throw new Error(`a wrong token: ${Code[anon.code]}`);
    return "0 nodes; a wrong token Unauthenticated";
  });

  // A second QEMU node, enrolled by H: H records it (provider "none"), this process runs the VM.
  const created = await t.step("H creates an instance (provider none) and its bootstrap token", () =>
    onH.provision.createInstance({ name: "child-1", arch: 1, provider: "none", start: false }),
  );
  const child = created.instance;
  if (!child) throw new Error("CreateInstance on H returned no instance");
  const { provider } = smokeQemuProvider(t);
  const vm = {
    id: child.id,
    name: `h-child-${Date.now().toString(36)}`,
    arch: "amd64" as const,
    memoryMib: 1024,
    vcpus: 2,
    persistent: false,
    network: "user",
    providerInfo: {},
  };
  const noEvent = async () => {};
  const info = await t.step("start the child VM with H's bootstrap token and CA", () =>
    provider.start(
      vm,
      { instanceUuid: child.id, bootstrapToken: created.bootstrapToken, platformUrl: nodeUrl, caPem },
      noEvent,
    ),
  );
  t.defer(() => provider.destroy({ ...vm, providerInfo: info }, noEvent).catch(() => undefined));
  if (info.serialLog) t.keepOnFailure("child serial log", info.serialLog);
  await t.check("the child node enrolls with H and heartbeats (RUNNING on H)", async () => {
    const t0 = performance.now();
    const n = await waitFor(
      `child ${child.id} RUNNING on H (serial log ${info.serialLog})`,
      async (): Promise<Node | undefined> => {
        const got = (await onH.fleet.getNode({ id: child.id })).node;
        return got?.state === NodeState.RUNNING ? got : undefined;
      },
      { timeoutMs: 180_000, intervalMs: 1000 },
    );
    return `RUNNING ${((performance.now() - t0) / 1000).toFixed(1)} s after QEMU started (agent ${n.agentVersion})`;
  });

  // Federation between A (host) and H (node), over mutual TLS.
  const pnctlA = remotePnctl(a.hub.httpUrl, a.hub.adminToken, join(a.hub.deps.config.dataDir, "ca.pem"));
  const proposed = await pnctlA(
    "federation",
    "propose",
    "hub-h",
    hMtlsFromHost,
    "--local-url",
    `https://10.0.2.2:${new URL(a.hub.mtlsUrl).port}`,
    "--json",
  );
  const token = (JSON.parse(proposed.out || "{}") as { acceptanceToken?: string }).acceptanceToken ?? "";
  await t.check("A proposes a peering with H; H's operator accepts it (pnctl on both)", async () => {
    if (proposed.code !== 0) throw new Error(`propose -> ${proposed.code}: ${proposed.err}`);
    const r = await remotePnctl(opUrl, adminToken, caFile, { POWERNODE_FEDERATION_TOKEN: token })(
      "federation",
      "accept",
      "--name",
      "hub-a",
      "--local-url",
      hMtlsFromHost,
      "--json",
    );
    if (r.code !== 0) throw new Error(`accept on H -> ${r.code}: ${r.err}`);
    const onA = (await a.federation.getPeer({ peer: "hub-h" })).peer;
    const mine = (await onH.federation.getPeer({ peer: "hub-a" })).peer;
    if (onA?.state !== PeerState.ACTIVE || mine?.state !== PeerState.ACTIVE)
      throw new Error(`states A:${onA?.state} H:${mine?.state}, want active`);
    if (onA.remoteCaSha256 !== caFingerprint(caPem)) throw new Error("A does not hold H's CA");
    return `both active; A holds H's CA ${onA.remoteCaSha256.slice(0, 12)}...`;
  });
  await t.check("over mTLS: A reads H's fleet summary (1 node), H reads A's (1 node)", async () => {
    const ra = await pnctlA("federation", "fleet", "hub-h", "--json");
    if (ra.code !== 0) throw new Error(`A -> H: ${ra.code}: ${ra.err}`);
    const rh = await pnctlH("federation", "fleet", "hub-a", "--json");
    if (rh.code !== 0) throw new Error(`H -> A: ${rh.code}: ${rh.err}`);
    const sa = JSON.parse(ra.out) as { nodesTotal: number };
    const sh = JSON.parse(rh.out) as { nodesTotal: number };
    if (sa.nodesTotal !== 1 || sh.nodesTotal !== 1)
      throw new Error(`H has ${sa.nodesTotal} nodes per A, A has ${sh.nodesTotal} per H; want 1 and 1`);
    return `H: ${sa.nodesTotal} node, A: ${sh.nodesTotal} node`;
  });
  await t.check("A revokes H: H is told and its next call to A is refused", async () => {
    const r = await pnctlA("federation", "revoke", "hub-h", "--reason", "smoke", "--json");
    if (r.code !== 0) throw new Error(`revoke -> ${r.code}: ${r.err}`);
    const v = JSON.parse(r.out) as { state: string; peerNotified: boolean };
    const mine = (await onH.federation.getPeer({ peer: "hub-a" })).peer;
    if (mine?.state !== PeerState.REVOKED) throw new Error(`H's row is ${mine?.state}, want revoked`);
    const again = await pnctlH("federation", "fleet", "hub-a", "--json");
    if (again.code === 0) throw new Error("H read A's fleet after the revocation");
    return `A: ${v.state}, peer notified ${v.peerNotified}; H's read exits ${again.code}: ${again.err.slice(0, 80)}`;
  });
}
