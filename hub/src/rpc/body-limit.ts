/**
 * Request body limits per route, on both listeners. The HTTP listener must let Bun accept 2 GiB bodies
 * (`serve.maxRequestBodySize`) because module blobs are uploaded in one PATCH; only the OCI upload routes
 * get that. Every other route is held to the Connect limit: a declared Content-Length above it is
 * refused before routing, and a body without one is cut by Connect's `readMaxBytes` as it streams in
 * (resource_exhausted). The mTLS listener serves OCI reads only, so it holds every route to the
 * Connect limit.
 */
import { Elysia } from "elysia";
import { OCI_MAX_REQUEST_BODY_BYTES } from "../oci/index.ts";
import { READ_MAX_BYTES } from "./routes.ts";

/** Largest body on a Connect route: one message at `READ_MAX_BYTES` plus envelope and headroom. */
export const CONNECT_MAX_BODY_BYTES = READ_MAX_BYTES + 64 * 1024;

/** `/v2` and below: the OCI distribution API. */
export function isOciPath(pathname: string): boolean {
  return pathname === "/v2" || pathname.startsWith("/v2/");
}

/** The body limit of `pathname` on a listener (`http`: OCI uploads allowed; `mtls`: OCI reads only). */
export function bodyLimitFor(listener: "http" | "mtls", pathname: string): number {
  return listener === "http" && isOciPath(pathname) ? OCI_MAX_REQUEST_BODY_BYTES : CONNECT_MAX_BODY_BYTES;
}

/** What to answer a body over its route's limit. */
export interface BodyRefusal {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * The refusal when the declared Content-Length is over the route's limit, else undefined. gRPC and
 * gRPC-Web callers get `grpc-status: 8` (resource exhausted) as a trailers-only answer; Connect and
 * anything else get 413 with Connect's JSON error body, which Connect clients read as
 * resource_exhausted.
 */
export function refuseOversizedBody(
  listener: "http" | "mtls",
  pathname: string,
  contentLength: string | null | undefined,
  contentType: string | null | undefined,
): BodyRefusal | undefined {
  // Webhooks answer every request with HTTP 200 and a reason, oversized ones too: they read at most
  // their own small limit and stop (disk-images/webhook-route.ts).
  if (!contentLength || pathname.startsWith("/webhooks/")) return undefined;
  const declared = Number(contentLength);
  const limit = bodyLimitFor(listener, pathname);
  if (!Number.isFinite(declared) || declared <= limit) return undefined;
  const message = `request body: ${declared} bytes, over the ${limit}-byte limit of this route`;
  if (/^application\/grpc/.test(contentType ?? "")) {
    return {
      status: 200,
      headers: {
        "content-type": contentType ?? "application/grpc",
        "grpc-status": "8",
        "grpc-message": encodeURIComponent(message),
      },
      body: "",
    };
  }
  return {
    status: 413,
    headers: { "content-type": "application/json", connection: "close" },
    body: JSON.stringify({ code: "resource_exhausted", message }),
  };
}

/** An Elysia plugin refusing, before routing, bodies declared over their route's limit. */
export function bodyLimits() {
  return new Elysia({ name: "powernode.body-limits" })
    .onRequest(({ request }) => {
      const r = refuseOversizedBody(
        "http",
        new URL(request.url).pathname,
        request.headers.get("content-length"),
        request.headers.get("content-type"),
      );
      if (r) return new Response(r.body, { status: r.status, headers: r.headers });
    })
    .as("global");
}
