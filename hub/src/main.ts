/**
 * `bun hub/src/main.ts`: starts the hub from the environment, prints the URLs (and the admin token on
 * first start), and stops cleanly on SIGINT/SIGTERM.
 */
import { ConfigError, parseHubConfig } from "./config.ts";
import { startHubWithConfig } from "./hub.ts";

async function main(): Promise<number> {
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
  const hub = await startHubWithConfig(config, { nodeUrlGiven: true, nodeHttpUrlGiven: true });
  const out = [
    `powernode hub ready (database: ${hub.deps.dbDriver})`,
    `  operator API  ${hub.httpUrl}  (Connect, gRPC-Web, JSON; /healthz /metrics /events/stream)`,
    `  node mTLS     ${hub.mtlsUrl}  (gRPC, Connect)`,
    `  nodes use     ${hub.nodeUrl}`,
  ];
  if (hub.adminTokenCreated) {
    out.push(
      `  admin token   ${hub.adminToken}  (shown once; also in ${config.dataDir}/admin.token, mode 0600)`,
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

process.exitCode = await main();
