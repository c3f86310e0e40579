/**
 * `bun hub/src/main.ts`: starts the hub from the environment, prints the URLs (and, on first start,
 * where the admin token file is: never the token), and stops cleanly on SIGINT/SIGTERM. The process
 * umask is PRIVATE_UMASK, so what the hub and its children write under the data dir is private.
 */
import { ConfigError, parseHubConfig } from "./config.ts";
import { PRIVATE_UMASK } from "./data-dir.ts";
import { caFingerprint } from "./federation/token.ts";
import { startHubWithConfig } from "./hub.ts";
import { caFile } from "./operator-listener.ts";
import { isStartRefusal } from "./start-errors.ts";

async function main(): Promise<number> {
  process.umask(PRIVATE_UMASK);
  let config: ReturnType<typeof parseHubConfig>;
  try {
    config = parseHubConfig(process.env);
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(
        `powernode hub: invalid configuration:\n${e.problems.map((p) => `  - ${p}`).join("\n")}\n`,
      );
      return 2;
    }
    throw e;
  }
  let hub: Awaited<ReturnType<typeof startHubWithConfig>>;
  try {
    hub = await startHubWithConfig(config, { nodeUrlGiven: true, nodeHttpUrlGiven: true });
  } catch (e) {
    if (isStartRefusal(e)) {
      process.stderr.write(`powernode hub: cannot start: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  const out = [
    `powernode hub ready (database: ${hub.deps.dbDriver})`,
    `  operator API  ${hub.httpUrl}  (Connect, gRPC-Web, JSON; /healthz /metrics /events/stream; web console)`,
    `  node mTLS     ${hub.mtlsUrl}  (gRPC, Connect)`,
    `  nodes use     ${hub.nodeUrl}`,
  ];
  // Printed so an operator can check the CA a client is offered against the hub's console (a hub on a
  // node prints it to the node's serial console).
  out.push(`  CA sha256     ${caFingerprint(hub.caPem)}`);
  if (hub.operatorSource === "internal-ca")
    out.push(
      `  certificate   from the hub's internal CA: trust ${caFile(config.dataDir)} (pnctl reads it; docs/certs.md)`,
    );
  else if (hub.operatorTls) out.push(`  certificate   ${hub.operatorSource}`);
  else out.push("  plain HTTP    on loopback only (POWERNODE_OPERATOR_PLAIN_HTTP=1)");
  if (hub.metricsUrl) out.push(`  metrics       ${hub.metricsUrl}/metrics  (no token)`);
  if (hub.adminTokenCreated) {
    out.push(
      `  admin token   made on this first start, in ${config.dataDir}/admin.token (mode 0600; pnctl reads it)`,
    );
  }
  process.stdout.write(`${out.join("\n")}\n`);
  await new Promise<void>((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
  });
  await hub.stop();
  return 0;
}

// No top-level await: the hub module's binary is compiled with --bytecode, which needs CommonJS.
main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(
      `powernode hub: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exitCode = 1;
  },
);
