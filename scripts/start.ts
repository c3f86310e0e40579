/**
 * `npm start`: the main job. A hub on the embedded database (PGlite under $POWERNODE_DATA, default ./var)
 * with one amd64 QEMU node booted from our image and enrolled; prints where to look, then keeps running
 * until Ctrl-C, when it stops the node and the hub.
 *
 * Environment: the hub's (POWERNODE_DATA, POWERNODE_HTTP_PORT, POWERNODE_MTLS_PORT, DATABASE_URL, ...),
 * plus POWERNODE_START_ARCH (amd64|arm64, default amd64) and POWERNODE_START_EXIT=1 to stop once enrolled.
 */
import { relative, resolve } from "node:path";
import { ConfigError, parseHubConfig, startHubWithConfig } from "../hub/src/index.ts";
import { buildImage } from "../initramfs/index.ts";
import { NodeState } from "../proto/src/index.ts";
import { operatorClients } from "../smokes/lib/hub.ts";
import { waitFor } from "../smokes/lib/wait.ts";

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
  say(`building the ${arch} node image (reused when nothing changed)`);
  const image = await buildImage({ arch, log: (l) => say(`  ${l}`) });
  say(`image ${image.reused ? "reused" : "built"}: ${relative(process.cwd(), image.initramfsPath)}`);

  const hub = await startHubWithConfig(config, { nodeUrlGiven: true, nodeHttpUrlGiven: true });
  const ops = operatorClients(hub.httpUrl, hub.adminToken);
  let stopping = false;
  const shutdown = async (id?: string) => {
    if (stopping) return;
    stopping = true;
    say("stopping the node and the hub");
    if (id) await ops.provision.stopInstance({ id }).catch(() => undefined);
    await hub.stop();
  };

  // Earlier demo nodes of this data dir died with the previous run: remove their records and VMs.
  for (const i of (await ops.provision.listInstances({})).instances) {
    if (i.name.startsWith(DEMO_PREFIX) && i.state !== NodeState.DELETED) {
      await ops.provision.deleteInstance({ id: i.id }).catch(() => undefined);
    }
  }
  const t0 = performance.now();
  const created = await ops.provision.createInstance({
    name: `${DEMO_PREFIX}${arch}-${Date.now().toString(36)}`,
    arch: arch === "arm64" ? 2 : 1,
    provider: "qemu",
    memoryMib: 1024,
    vcpus: 2, // TCG runs one host thread per vCPU: Bun starts and enrolls ~2 s sooner with two
    start: true,
  });
  const id = created.instance?.id ?? "";
  say(`node ${id} booting (serial log: ${created.instance?.providerInfo.serialLog ?? "?"})`);
  try {
    await waitFor(
      `node ${id} to enroll and heartbeat`,
      async () => (await ops.fleet.getNode({ id })).node?.state === NodeState.RUNNING,
      { timeoutMs: arch === "arm64" ? 300_000 : 180_000, intervalMs: 250 },
    );
  } catch (err) {
    say(`${(err as Error).message}`);
    await shutdown(id);
    return 1;
  }
  const seconds = ((performance.now() - t0) / 1000).toFixed(1);
  const data = resolve(config.dataDir);
  const pnctl = `./pnctl --url ${hub.httpUrl}`;
  process.stdout.write(
    [
      "",
      `powernode is up: one ${arch} node enrolled ${seconds} s after it was created.`,
      "",
      `  hub (operator API)  ${hub.httpUrl}   health ${hub.httpUrl}/healthz   metrics ${hub.httpUrl}/metrics`,
      `  node mTLS listener  ${hub.mtlsUrl}   (nodes reach it as ${hub.nodeUrl})`,
      `  admin token         ${hub.adminTokenCreated ? `${hub.adminToken} (shown once; ` : "("}kept in ${data}/admin.token)`,
      "",
      "  look at it:",
      `    ${pnctl} nodes ls`,
      `    ${pnctl} nodes get ${id}`,
      `    ${pnctl} events ls --node ${id}`,
      `    ${pnctl} events watch`,
      "",
      "Ctrl-C stops the node and the hub.",
      "",
    ].join("\n"),
  );
  if (process.env.POWERNODE_START_EXIT === "1") {
    await shutdown(id);
    return 0;
  }
  await new Promise<void>((r) => {
    process.once("SIGINT", r);
    process.once("SIGTERM", r);
  });
  await shutdown(id);
  return 0;
}

process.exitCode = await main();
