/**
 * Every ConnectRPC service of every feature on a router, and the router options both listeners share
 * (4 MiB message limit, strict JSON, the interceptor chain).
 */
import type { ConnectRouter, ConnectRouterOptions } from "@connectrpc/connect";
import type { Deps } from "../deps.ts";
import { type Feature, principalsOf } from "../feature.ts";
import { createAuthInterceptor, createErrorsInterceptor, createMetricsInterceptor } from "./interceptors.ts";
import { createRequestGate } from "./request-gate.ts";

/** Largest single message a client may send. */
export const READ_MAX_BYTES = 4 * 1024 * 1024;

/** Registers every feature's services on `router`. */
export function routes(router: ConnectRouter, deps: Deps, features: readonly Feature[]): void {
  for (const f of features) for (const b of f.services ?? []) router.service(b.service, b.create(deps));
}

/** Router options shared by the Elysia and the http2 listener. */
export function routerOptions(
  deps: Deps,
  features: readonly Feature[],
  shutdown?: AbortSignal,
): Partial<ConnectRouterOptions> {
  const principals = principalsOf(features);
  return {
    readMaxBytes: READ_MAX_BYTES,
    // Unknown JSON fields are an error: a typo in a field name must not be silently ignored.
    jsonOptions: { ignoreUnknownFields: false },
    interceptors: [
      createMetricsInterceptor(deps),
      createErrorsInterceptor(deps),
      createAuthInterceptor(deps, principals),
    ],
    // Before the body is read: call rates and credentials (request-gate.ts).
    requestGate: createRequestGate(deps, principals),
    shutdownSignal: shutdown,
  };
}
