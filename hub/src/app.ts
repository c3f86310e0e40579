/** The Elysia app: every feature's HTTP plugins and the ConnectRPC routes, composed from the feature list. */
import { Elysia } from "elysia";
import type { Deps } from "./deps.ts";
import type { Feature } from "./feature.ts";
import { OCI_MAX_REQUEST_BODY_BYTES } from "./oci/index.ts";
import { bodyLimits } from "./rpc/body-limit.ts";
import { connectRoutes } from "./rpc/elysia-connect.ts";

/** Builds the app (not listening). */
export function createApp(deps: Deps, features: readonly Feature[], shutdown: AbortSignal) {
  // Bun takes bodies up to the OCI limit; bodyLimits() holds every other route to the Connect limit.
  let app = new Elysia({ serve: { maxRequestBodySize: OCI_MAX_REQUEST_BODY_BYTES } }).use(bodyLimits());
  for (const f of features) for (const plugin of f.http ?? []) app = app.use(plugin(deps, shutdown));
  return app.use(connectRoutes(deps, features, shutdown));
}
