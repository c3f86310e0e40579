/**
 * The operator listener over TLS (the default, decision 0026; plain HTTP only with
 * POWERNODE_OPERATOR_PLAIN_HTTP=1, on loopback): a `node:http2` secure server (HTTP/2 and HTTP/1.1, no client certificates) that hands
 * every request to the Elysia app as a fetch Request, so the operator API, `/v2/` uploads, SSE and
 * every feature's HTTP plugin are served as on the plain listener. Around it: the connection limits
 * of decision 0016 (node-connections.ts with the operator numbers). The certificate can be replaced
 * while running (`setIdentity`: a renewed ACME certificate); new handshakes get the new one.
 */
import {
  createSecureServer,
  type Http2SecureServer,
  type Http2ServerRequest,
  type Http2ServerResponse,
} from "node:http2";
import type { ServerIdentity } from "../ca/ca.ts";
import type { Deps } from "../deps.ts";
import { OCI_MAX_REQUEST_BODY_BYTES } from "../oci/index.ts";
import { listenTracked } from "./http2-listen.ts";
import { guardConnections, operatorConnectionRules } from "./node-connections.ts";
import { toRequest, writeFetchResponse, writeSimple } from "./node-http.ts";
import { setRequestAddress } from "./request-origin.ts";

export interface OperatorTlsServer {
  port: number;
  server: Http2SecureServer;
  setIdentity(identity: ServerIdentity): void;
  close(): Promise<void>;
}

/** The request body as a stream, cut with an error past `max` bytes (Bun.serve's limit on the plain listener). */
function bodyStream(req: Http2ServerRequest, max: number): ReadableStream<Uint8Array> {
  let seen = 0;
  return new ReadableStream<Uint8Array>({
    start(controller) {
      req.on("data", (chunk: Buffer) => {
        seen += chunk.length;
        if (seen > max) {
          controller.error(new Error(`request body: over the ${max}-byte limit`));
          req.destroy();
          return;
        }
        controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length));
        if ((controller.desiredSize ?? 1) <= 0) req.pause();
      });
      req.once("end", () => controller.close());
      req.once("error", (e) => controller.error(e));
    },
    pull() {
      req.resume();
    },
    cancel() {
      req.destroy();
    },
  });
}

function toFetchRequest(req: Http2ServerRequest, signal: AbortSignal): Request {
  const method = req.method ?? "GET";
  const withBody = method !== "GET" && method !== "HEAD";
  const request = toRequest(req, {
    signal,
    ...(withBody ? { body: bodyStream(req, OCI_MAX_REQUEST_BODY_BYTES), duplex: "half" } : {}),
  } as RequestInit);
  setRequestAddress(request, req.socket.remoteAddress);
  return request;
}

/** Starts the TLS operator listener on `host:port` (0 picks one), serving `handle` (the Elysia app's). */
export async function startOperatorTlsServer(
  deps: Deps,
  handle: (request: Request) => Promise<Response> | Response,
  identity: ServerIdentity,
  opts: { host: string; port: number },
): Promise<OperatorTlsServer> {
  const log = deps.log.child({ component: "operator-tls" });
  const serve = async (req: Http2ServerRequest, res: Http2ServerResponse) => {
    guard.track(req, res);
    const abort = new AbortController();
    res.once("close", () => abort.abort());
    const answer = await handle(toFetchRequest(req, abort.signal));
    await writeFetchResponse(res, answer, req.method ?? "GET");
  };
  const server = createSecureServer(
    { key: identity.keyPem, cert: identity.certPem, allowHTTP1: true, minVersion: "TLSv1.2" },
    (req: Http2ServerRequest, res) =>
      void serve(req, res).catch((e: unknown) => {
        log.error("serving an operator listener request", { path: req.url, error: e });
        if (!res.headersSent)
          writeSimple(
            res,
            500,
            { "content-type": "application/json" },
            '{"code":"internal","message":"internal error"}',
          );
        else res.destroy();
      }),
  );
  const guard = guardConnections(server, operatorConnectionRules(deps.config.limits), deps.metrics);
  server.setTimeout(0);
  // A plain-HTTP request on this port fails the handshake (the client sees the connection closed):
  // counted, so a misconfigured client shows in /metrics.
  deps.metrics.describe(
    "powernode_operator_plain_http_refused_total",
    "counter",
    "Plain-HTTP requests to the HTTPS operator listener, closed without an answer",
  );
  server.on("tlsClientError", (e: Error & { code?: string }, socket) => {
    if (e.code === "ERR_SSL_HTTP_REQUEST")
      deps.metrics.inc("powernode_operator_plain_http_refused_total", {});
    socket.destroy();
  });
  const listening = await listenTracked(server, opts.host, opts.port);
  return {
    port: listening.port,
    server,
    setIdentity(next) {
      server.setSecureContext({ key: next.keyPem, cert: next.certPem });
    },
    close: listening.close,
  };
}
