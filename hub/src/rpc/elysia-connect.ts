/**
 * Mounts ConnectRPC handlers on Elysia (Connect, gRPC-Web and JSON over HTTP/1.1). Each handler is
 * registered at its request path with `parse: "none"`: if Elysia touched the body, Connect would find the
 * stream consumed and answer 500.
 */
import { createConnectRouter, createContextValues } from "@connectrpc/connect";
import {
  universalServerRequestFromFetch,
  universalServerResponseToFetch,
} from "@connectrpc/connect/protocol";
import { Elysia } from "elysia";
import type { Deps } from "../deps.ts";
import type { Feature } from "../feature.ts";
import { kOrigin } from "./context.ts";
import { requestAddress } from "./request-origin.ts";
import { routerOptions, routes } from "./routes.ts";

/** An Elysia plugin serving every RPC route. */
export function connectRoutes(deps: Deps, features: readonly Feature[], shutdown?: AbortSignal) {
  const router = createConnectRouter(routerOptions(deps, features, shutdown));
  routes(router, deps, features);
  const app = new Elysia({ name: "connect" });
  for (const handler of router.handlers) {
    const streaming = handler.method.methodKind !== "unary";
    app.all(
      handler.requestPath,
      async ({ request, server }) => {
        // Streams are long-lived: no idle timeout for this request (keepalives are sent too).
        if (streaming) server?.timeout(request, 0);
        const uReq = universalServerRequestFromFetch(request, {});
        uReq.contextValues = createContextValues().set(kOrigin, {
          listener: "http",
          remoteIp: requestAddress(request, server),
          peer: undefined,
        });
        return universalServerResponseToFetch(await handler(uReq));
      },
      { parse: "none" },
    );
  }
  return app;
}
