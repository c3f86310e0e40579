/**
 * The operator listener (decision 0026): the Elysia app over HTTPS by default, with the ACME
 * certificate for the hub's name when one is active, else a certificate from the internal CA, whose PEM
 * is written to `<data dir>/ca.pem` for pnctl and `buf curl --cacert`. With POWERNODE_OPERATOR_PLAIN_HTTP=1
 * (and in the in-process test harness) Bun serves the app over plain HTTP on `config.operatorHost`.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { createApp } from "./app.ts";
import type { ServerIdentity } from "./ca/ca.ts";
import { operatorIdentity, watchOperatorIdentity } from "./certs/operator-identity.ts";
import type { Deps } from "./deps.ts";
import type { Feature } from "./feature.ts";
import { startOperatorTlsServer } from "./rpc/operator-server.ts";

/** A started operator listener. */
export interface OperatorListener {
  port: number;
  /** `plain-http`, `internal-ca` or `acme:<certificate>:<serial>` (the certificate presented at start). */
  source: string;
  close(): Promise<void>;
}

/** Where the hub writes its internal CA's certificate (public: the trust anchor clients are given). */
export const caFile = (dataDir: string): string => join(dataDir, "ca.pem");

/** Starts the operator listener on `config.operatorHost:httpPort`; `internal` is the internal CA's server identity. */
export async function startOperatorListener(
  deps: Deps,
  features: readonly Feature[],
  shutdown: AbortSignal,
  internal: ServerIdentity,
): Promise<OperatorListener> {
  const { config } = deps;
  const app = createApp(deps, features, shutdown);
  if (!config.operatorTls) {
    app.listen({ port: config.httpPort, hostname: config.operatorHost });
    const port = app.server?.port;
    if (port === undefined)
      throw new Error(`http listener did not start on ${config.operatorHost}:${config.httpPort}`);
    return {
      port,
      source: "plain-http",
      close: async () => {
        await app.stop(true);
      },
    };
  }
  writeFileSync(caFile(config.dataDir), deps.ca.certPem);
  const chosen = await operatorIdentity(deps, internal);
  const server = await startOperatorTlsServer(deps, (r) => app.handle(r), chosen.identity(), {
    host: config.operatorHost,
    port: config.httpPort,
  });
  const stopWatching = watchOperatorIdentity(deps, internal, chosen.source, (next) =>
    server.setIdentity(next.identity()),
  );
  deps.log.info("operator listener: HTTPS", { port: server.port, certificate: chosen.source });
  return {
    port: server.port,
    source: chosen.source,
    close: async () => {
      stopWatching();
      await server.close();
    },
  };
}
