/** The Elysia app: every HTTP plugin and the ConnectRPC routes, composed in one place. */
import { join } from "node:path";
import { Elysia } from "elysia";
import type { Deps } from "./deps.ts";
import { eventStreamRoutes } from "./http/events-stream.ts";
import { healthRoutes } from "./http/health.ts";
import { metricsRoutes } from "./http/metrics.ts";
import { createOciRegistry, OCI_MAX_REQUEST_BODY_BYTES } from "./oci/index.ts";
import { connectRoutes } from "./rpc/elysia-connect.ts";
import { bearerToken } from "./rpc/interceptors.ts";

/**
 * Builds the app (not listening). Module artifacts are served by the OCI registry at `/v2/`: reads are
 * open (content is verified by digest on the node), pushes need the operator token.
 */
export function createApp(deps: Deps, shutdown?: AbortSignal) {
  const oci = createOciRegistry({
    dataDir: join(deps.config.dataDir, "oci"),
    authorizePush: async (request) => {
      const token = bearerToken(request.headers.get("authorization"));
      return token !== undefined && (await deps.adminAuth.verify(token));
    },
    log: deps.log.child({ component: "oci" }),
  });
  return new Elysia({ serve: { maxRequestBodySize: OCI_MAX_REQUEST_BODY_BYTES } })
    .use(oci.plugin)
    .use(healthRoutes(deps))
    .use(metricsRoutes(deps))
    .use(eventStreamRoutes(deps))
    .use(connectRoutes(deps, shutdown));
}
