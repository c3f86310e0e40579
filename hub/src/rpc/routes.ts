/**
 * Every ConnectRPC service of every feature on a router, and the router options both listeners share
 * (4 MiB message limit, strict JSON and UTF-8, the interceptor chain). Every handler is wrapped so that
 * what fails before the interceptors (decoding) is mapped and counted (decode-errors.ts); the innermost
 * interceptor applies the edge rule to every request message (input-rules.ts).
 */
import type { DescService } from "@bufbuild/protobuf";
import type { ConnectRouter, ConnectRouterOptions, ServiceImpl } from "@connectrpc/connect";
import type { Deps } from "../deps.ts";
import { type Feature, principalsOf } from "../feature.ts";
import { createMalformedRecorder, createReachedInterceptor, mapDecodeErrors } from "./decode-errors.ts";
import { createInputInterceptor } from "./input-rules.ts";
import { createAuthInterceptor, createErrorsInterceptor, createMetricsInterceptor } from "./interceptors.ts";
import { createRequestGate } from "./request-gate.ts";

/** Largest single message a client may send. */
export const READ_MAX_BYTES = 4 * 1024 * 1024;

/**
 * Unknown JSON fields are an error: a typo in a field name must not be silently ignored. Invalid UTF-8
 * in a JSON body is an error too (connect-es passes `textDecoder` on to its JSON serialization; the
 * default decoder would replace bad bytes silently; bad-input.db.test.ts checks it holds).
 */
const JSON_OPTIONS: ConnectRouterOptions["jsonOptions"] & { textDecoder: TextDecoder } = {
  ignoreUnknownFields: false,
  textDecoder: new TextDecoder("utf-8", { fatal: true }),
};

/** A service and its implementation. */
export interface BoundService {
  service: DescService;
  impl: Partial<ServiceImpl<DescService>>;
}

/** Every feature's services, implemented once per listener (the node listener's direct path shares them). */
export function serviceImpls(deps: Deps, features: readonly Feature[]): BoundService[] {
  return features.flatMap((f) =>
    (f.services ?? []).map((b) => ({ service: b.service, impl: b.create(deps) as BoundService["impl"] })),
  );
}

/** Registers every feature's services on `router`. */
export function routes(
  router: ConnectRouter,
  deps: Deps,
  features: readonly Feature[],
  impls: readonly BoundService[] = serviceImpls(deps, features),
): void {
  for (const b of impls) router.service(b.service, b.impl);
  mapDecodeErrors(router, deps);
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
    jsonOptions: JSON_OPTIONS,
    interceptors: [
      createReachedInterceptor(),
      createMetricsInterceptor(deps),
      createErrorsInterceptor(deps),
      createAuthInterceptor(deps, principals),
      createInputInterceptor(createMalformedRecorder(deps)),
    ],
    // Before the body is read: call rates and credentials (request-gate.ts).
    requestGate: createRequestGate(deps, principals),
    shutdownSignal: shutdown,
  };
}
