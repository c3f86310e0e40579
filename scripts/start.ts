/**
 * `npm start`: the main job. A hub on the embedded database (PGlite under $POWERNODE_DATA, default ./var)
 * with one amd64 QEMU node booted from our image and enrolled; prints where to look, then keeps running
 * until Ctrl-C, when it stops the node and the hub.
 *
 * Environment: the hub's (POWERNODE_DATA, POWERNODE_HTTP_PORT, POWERNODE_MTLS_PORT, DATABASE_URL, ...),
 * plus POWERNODE_START_ARCH (amd64|arm64, default amd64), POWERNODE_START_EXIT=1 to stop once enrolled,
 * and POWERNODE_START_NODES (1-5, default 1): with more than one, the nodes boot on a lab network
 * (smokes/lib/lab.ts: namespace pnlab-start, 10.203.9.0/24, removed at the end) where they reach each
 * other, e.g. for an overlay network (docs/tutorials/02-mesh.md), and POWERNODE_START_MEMORY_MIB
 * (256-65536, default 1024) per node (2048 for the docker-engine module, docs/tutorials/03-docker-runtime.md),
 * and POWERNODE_START_MODULES (default `system-base,nginx-light`; `none` for none): in-tree module recipes
 * built (or reused) and published on start, the nodes created from a template of them.
 *
 * The web console's URL is printed first, as soon as the hub listens (docs/console.md).
 */
import { relative, resolve } from "node:path";
import {
  ConfigError,
  caFile,
  isStartRefusal,
  PRIVATE_UMASK,
  parseHubConfig,
  startHubWithConfig,
} from "../hub/src/index.ts";
import { buildImage } from "../initramfs/index.ts";
import { NodeState } from "../proto/src/index.ts";
import { operatorClients } from "../smokes/lib/hub.ts";
import { createLab, type Lab } from "../smokes/lib/lab.ts";
import { waitFor } from "../smokes/lib/wait.ts";
import { parseStartModules, prepareStartModules, startTemplateName } from "./lib/start-modules.ts";

const DEMO_PREFIX = "demo-";

function say(line: string): void {
  process.stdout.write(`[start] ${line}\n`);
}

async function main(): Promise<number> {
  const arch = process.env.POWERNODE_START_ARCH === "arm64" ? "arm64" : "amd64";
  let config: ReturnType<typeof parseHubConfig>;
  try {
    config = parseHubConfig(process.env);
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`invalid configuration:\n${e.problems.map((p) => `  - ${p}`).join("\n")}\n`);
      return 2;
    }
    throw e;
  }
  const count = Number(process.env.POWERNODE_START_NODES ?? "1");
  if (!Number.isInteger(count) || count < 1 || count > 5) {
    process.stderr.write(`POWERNODE_START_NODES: "${process.env.POWERNODE_START_NODES}" must be 1 to 5\n`);
    return 2;
  }
  const memoryMib = Number(process.env.POWERNODE_START_MEMORY_MIB ?? "1024");
  if (!Number.isInteger(memoryMib) || memoryMib < 256 || memoryMib > 65536) {
    process.stderr.write(
      `POWERNODE_START_MEMORY_MIB: "${process.env.POWERNODE_START_MEMORY_MIB}" must be 256 to 65536\n`,
    );
    return 2;
  }
  let moduleNames: string[];
  try {
    moduleNames = parseStartModules(process.env.POWERNODE_START_MODULES);
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n`);
    return 2;
  }

  let lab: Lab | undefined;
  if (count > 1) {
    lab = await createLab({ name: "start", index: 9, log: (l) => say(`lab: ${l}`) });
    say(`lab network ${lab.cidr} (namespace ${lab.netns}); nodes reach the hub at ${lab.hostAddress}`);
    config.nodeUrl = `https://${lab.hostAddress}:${config.mtlsPort}`;
    config.nodeHttpUrl = `http://${lab.hostAddress}:${config.httpPort}`;
  }
  // From here on what the hub and QEMU write (the data dir, serial logs) is private to this user.
  process.umask(PRIVATE_UMASK);
  let hub: Awaited<ReturnType<typeof startHubWithConfig>>;
  try {
    hub = await startHubWithConfig(config, {
      nodeUrlGiven: true,
      nodeHttpUrlGiven: true,
      ...(lab ? { nodeHost: lab.hostAddress } : {}),
    });
  } catch (e) {
    await lab?.stop();
    if (isStartRefusal(e)) {
      process.stderr.write(`the hub cannot start: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  say(`web console: ${hub.httpUrl}/ (sign in with the operator token; docs/console.md)`);
  const hubCa = hub.operatorSource === "internal-ca" ? hub.caPem : undefined;
  if (hubCa)
    say(
      `its certificate is from the hub's internal CA: trust ${caFile(config.dataDir)} in the browser, or pass it as --hub-ca / --cacert (docs/certs.md)`,
    );
  const ops = operatorClients(hub.httpUrl, hub.adminToken, hubCa);
  let stopping = false;
  const shutdown = async (ids: readonly string[] = []) => {
    if (stopping) return;
    stopping = true;
    say(`stopping the node${ids.length === 1 ? "" : "s"} and the hub`);
    await Promise.all(ids.map((id) => ops.provision.stopInstance({ id }).catch(() => undefined)));
    await hub.stop();
    await lab?.stop();
    say("stopped");
  };

  let template = "";
  try {
    say(`building the ${arch} node image (reused when nothing changed)`);
    const image = await buildImage({ arch, log: (l) => say(`  ${l}`) });
    say(`image ${image.reused ? "reused" : "built"}: ${relative(process.cwd(), image.initramfsPath)}`);
    if (moduleNames.length > 0) {
      template = await prepareStartModules({
        names: moduleNames,
        arch,
        hubUrl: hub.httpUrl,
        ...(hubCa ? { hubCa } : {}),
        token: hub.adminToken,
        provision: ops.provision,
        template: startTemplateName(moduleNames),
        say,
      });
    }
  } catch (err) {
    say(`${(err as Error).message}`);
    await shutdown();
    return 1;
  }

  // Earlier demo nodes of this data dir died with the previous run: remove their records and VMs.
  for (const i of (await ops.provision.listInstances({})).instances) {
    if (i.name.startsWith(DEMO_PREFIX) && i.state !== NodeState.DELETED) {
      await ops.provision.deleteInstance({ id: i.id }).catch(() => undefined);
    }
  }
  const t0 = performance.now();
  const stamp = Date.now().toString(36);
  const ids: string[] = [];
  for (let i = 1; i <= count; i++) {
    const created = await ops.provision.createInstance({
      name: count === 1 ? `${DEMO_PREFIX}${arch}-${stamp}` : `${DEMO_PREFIX}${arch}-${i}-${stamp}`,
      arch: arch === "arm64" ? 2 : 1,
      provider: "qemu",
      memoryMib,
      // TCG runs one host thread per vCPU: one node starts ~2 s sooner with two; several share the cores.
      vcpus: count === 1 ? 2 : 1,
      start: true,
      ...(template ? { template } : {}),
      ...(lab ? { network: lab.network } : {}),
    });
    const id = created.instance?.id ?? "";
    ids.push(id);
    say(`node ${id} booting (serial log: ${created.instance?.providerInfo.serialLog ?? "?"})`);
  }
  try {
    for (const id of ids) {
      await waitFor(
        `node ${id} to enroll and heartbeat`,
        async () => (await ops.fleet.getNode({ id })).node?.state === NodeState.RUNNING,
        { timeoutMs: (arch === "arm64" ? 300_000 : 180_000) * count, intervalMs: 250 },
      );
    }
  } catch (err) {
    say(`${(err as Error).message}`);
    await shutdown(ids);
    return 1;
  }
  const seconds = ((performance.now() - t0) / 1000).toFixed(1);
  if (template) {
    for (const id of ids) {
      try {
        const r = await waitFor(
          `node ${id} to mount and verify ${moduleNames.join(", ")}`,
          async () => {
            const m = await ops.fleet.getNodeModules({ nodeId: id });
            return m.modules.length === moduleNames.length && m.modules.every((x) => x.verified)
              ? m
              : undefined;
          },
          { timeoutMs: 180_000, intervalMs: 500 },
        );
        say(
          `node ${id}: ${r.modules.map((m) => `${m.assignment?.name} ${m.assignment?.version}`).join(", ")} mounted and verified`,
        );
      } catch (err) {
        say(`${(err as Error).message}; the console's Node view shows where it stands`);
      }
    }
  }
  const data = resolve(config.dataDir);
  // Where the operator token is, never the token itself (the console may be logged or shared).
  const tokenWhere = config.adminToken
    ? "the one in POWERNODE_ADMIN_TOKEN"
    : `in ${data}/admin.token (mode 0600${hub.adminTokenCreated ? ", made on this first start" : ""}; pnctl reads it; more: ./pnctl tokens create NAME)`;
  const pnctl = `./pnctl --url ${hub.httpUrl}`;
  process.stdout.write(
    [
      "",
      count === 1
        ? `powernode is up: one ${arch} node enrolled ${seconds} s after it was created.`
        : `powernode is up: ${count} ${arch} nodes on the lab network ${lab?.cidr}, all enrolled ${seconds} s after they were created.`,
      "",
      `  web console         ${hub.httpUrl}/`,
      `  hub (operator API)  ${hub.httpUrl}   health ${hub.httpUrl}/healthz   metrics ${hub.metricsUrl ? `${hub.metricsUrl}/metrics` : `${hub.httpUrl}/metrics (operator token)`}`,
      `  node mTLS listener  ${hub.mtlsUrl}   (nodes reach it as ${hub.nodeUrl})`,
      `  admin token         ${tokenWhere}`,
      ...(template ? [`  modules             ${moduleNames.join(", ")} (template ${template})`] : []),
      "",
      "  look at it:",
      `    ${pnctl} nodes ls`,
      `    ${pnctl} nodes get ${ids[0]}`,
      `    ${pnctl} events ls --node ${ids[0]}`,
      `    ${pnctl} events watch`,
      ...(count > 1
        ? [
            "  a WireGuard mesh of them (docs/tutorials/02-mesh.md):",
            `    ${pnctl} net create demo`,
            ...ids.map((id) => `    ${pnctl} net join demo ${id}`),
            `    ${pnctl} net health demo`,
          ]
        : []),
      "",
      `Ctrl-C stops the node${count === 1 ? "" : "s"}${lab ? ", the lab network" : ""} and the hub.`,
      "",
    ].join("\n"),
  );
  if (process.env.POWERNODE_START_EXIT === "1") {
    await shutdown(ids);
    return 0;
  }
  await new Promise<void>((r) => {
    process.once("SIGINT", r);
    process.once("SIGTERM", r);
  });
  await shutdown(ids);
  return 0;
}

process.exitCode = await main();
