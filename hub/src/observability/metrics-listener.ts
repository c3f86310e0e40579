/**
 * The metrics listener (POWERNODE_METRICS_LISTEN=host:port): `GET /metrics` without a token, nothing
 * else (404). For a Prometheus scraper on a private address or loopback; what it shows (method names,
 * error codes, node counts by state) is visible to whoever can reach that address.
 */
import type { Deps } from "../deps.ts";
import { metricsResponse } from "./metrics-route.ts";

/** A running metrics listener. */
export interface MetricsListener {
  /** `http://host:port` with the port bound. */
  url: string;
  port: number;
  stop(): Promise<void>;
}

/** Starts the metrics listener on `host:port` (port 0 = any free port). */
export function startMetricsListener(
  deps: Pick<Deps, "metrics" | "log">,
  listen: { host: string; port: number },
): MetricsListener {
  let server: ReturnType<typeof Bun.serve>;
  try {
    server = Bun.serve({
      hostname: listen.host,
      port: listen.port,
      async fetch(request) {
        const path = new URL(request.url).pathname;
        if (path !== "/metrics")
          return new Response("not found: this listener serves only /metrics\n", { status: 404 });
        if (request.method !== "GET" && request.method !== "HEAD")
          return new Response("method not allowed\n", { status: 405, headers: { allow: "GET, HEAD" } });
        try {
          return await metricsResponse(deps);
        } catch (e) {
          deps.log.error("rendering /metrics", { error: e });
          return new Response("metrics unavailable\n", { status: 503 });
        }
      },
    });
  } catch (e) {
    throw new Error(
      `POWERNODE_METRICS_LISTEN ${listen.host}:${listen.port}: cannot listen: ${(e as Error).message}`,
      {
        cause: e,
      },
    );
  }
  const port = server.port ?? listen.port;
  const host = listen.host.includes(":") ? `[${listen.host}]` : listen.host;
  return {
    url: `http://${host === "0.0.0.0" || host === "[::]" ? "127.0.0.1" : host}:${port}`,
    port,
    stop: async () => {
      await server.stop(true);
    },
  };
}
