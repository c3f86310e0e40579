/**
 * The single registration point of every ConnectRPC service, and the router options both listeners
 * share (4 MiB message limit, strict JSON, the interceptor chain).
 */
import type { ConnectRouter, ConnectRouterOptions } from "@connectrpc/connect";
import { CatalogService, FleetService, NodeService, ProvisionService } from "@powernode/proto";
import type { Deps } from "../deps.ts";
import { createCatalogService } from "../services/catalog/catalog-service.ts";
import { createFleetService } from "../services/fleet/fleet-service.ts";
import { createNodeService } from "../services/node/node-service.ts";
import { createProvisionService } from "../services/provision/provision-service.ts";
import { createAuthInterceptor, createErrorsInterceptor, createMetricsInterceptor } from "./interceptors.ts";

/** Largest single message a client may send. */
export const READ_MAX_BYTES = 4 * 1024 * 1024;

/** Registers every service on `router`. */
export function routes(router: ConnectRouter, deps: Deps): void {
  router.service(NodeService, createNodeService(deps));
  router.service(FleetService, createFleetService(deps));
  router.service(CatalogService, createCatalogService(deps));
  router.service(ProvisionService, createProvisionService(deps));
}

/** Router options shared by the Elysia and the http2 listener. */
export function routerOptions(deps: Deps, shutdown?: AbortSignal): Partial<ConnectRouterOptions> {
  return {
    readMaxBytes: READ_MAX_BYTES,
    // Unknown JSON fields are an error: a typo in a field name must not be silently ignored.
    jsonOptions: { ignoreUnknownFields: false },
    interceptors: [
      createMetricsInterceptor(deps),
      createErrorsInterceptor(deps),
      createAuthInterceptor(deps),
    ],
    shutdownSignal: shutdown,
  };
}
