/**
 * The node-facing listener: `node:http2` createSecureServer with client certificates requested (not
 * required: Enroll comes without one) and verified against our CA, serving the same routes over gRPC,
 * Connect and gRPC-Web, HTTP/2 and HTTP/1.1. The peer certificate goes into the Connect context; the auth
 * interceptor turns it into the node identity. Around Connect: connections per address and timeouts
 * (node-connections.ts), body limits (body-limit.ts) and the features' `nodeHttp` routes (OCI reads).
 * Unary node calls in Connect's binary form take the direct path (node-unary.ts) on the same services.
 */

import type { IncomingMessage } from "node:http";
import {
  createSecureServer,
  type Http2SecureServer,
  type Http2ServerRequest,
  type Http2ServerResponse,
  type Http2Session,
  type IncomingHttpHeaders,
  type ServerHttp2Stream,
} from "node:http2";
import type { TLSSocket } from "node:tls";
import { createContextValues } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import type { PeerCertificate } from "../auth/node-identity.ts";
import type { ServerIdentity } from "../ca/ca.ts";
import type { Deps } from "../deps.ts";
import { type Feature, principalsOf } from "../feature.ts";
import { isOciPath, refuseOversizedBody } from "./body-limit.ts";
import { kOrigin } from "./context.ts";
import { listenTracked } from "./http2-listen.ts";
import { guardNodeConnections } from "./node-connections.ts";
import { serveFetch, writeSimple } from "./node-http.ts";
import { createNodeUnaryPath } from "./node-unary.ts";
import { routerOptions, routes, serviceImpls } from "./routes.ts";

/** A running mTLS listener. */
export interface MtlsServer {
  port: number;
  server: Http2SecureServer;
  close(): Promise<void>;
}

/**
 * Parsed once per connection: getPeerCertificate() builds a fresh object on every call (it was 11 % of
 * the hub's CPU in bench/heartbeat.ts). Keyed by the HTTP/2 session, since `req.socket` is a new proxy
 * per request; HTTP/1.1 requests key by their socket.
 */
const peerByConnection = new WeakMap<object, PeerCertificate | null>();

function peerOf(req: IncomingMessage | Http2ServerRequest): PeerCertificate | undefined {
  const socket = req.socket as TLSSocket;
  return cachedPeer(("stream" in req && req.stream?.session) || socket, socket);
}

function peerOfSession(session: Http2Session | undefined): PeerCertificate | undefined {
  const socket = session?.socket as TLSSocket | undefined;
  return session && socket ? cachedPeer(session, socket) : undefined;
}

function cachedPeer(key: object, socket: TLSSocket): PeerCertificate | undefined {
  let peer = peerByConnection.get(key);
  if (peer === undefined) {
    peer = readPeer(socket) ?? null;
    peerByConnection.set(key, peer);
  }
  return peer ?? undefined;
}

function readPeer(socket: TLSSocket): PeerCertificate | undefined {
  const cert = socket.getPeerCertificate?.();
  if (!cert?.serialNumber) return undefined;
  const cn = cert.subject?.CN;
  return {
    authorized: socket.authorized === true,
    authorizationError: socket.authorizationError ? String(socket.authorizationError) : undefined,
    serial: cert.serialNumber,
    commonName: Array.isArray(cn) ? (cn[0] ?? "") : (cn ?? ""),
  };
}

/** Starts the listener on `host:port` (port 0 picks one). */
export async function startMtlsServer(
  deps: Deps,
  identity: ServerIdentity,
  opts: {
    host: string;
    port: number;
    features: readonly Feature[];
    shutdown?: AbortSignal;
    /** False: every call through Connect (node-unary.db.test.ts compares the two paths). */
    directNodeCalls?: boolean;
  },
): Promise<MtlsServer> {
  const options = routerOptions(deps, opts.features, opts.shutdown);
  const services = serviceImpls(deps, opts.features);
  const handler = connectNodeAdapter({
    ...options,
    routes: (router) => routes(router, deps, opts.features, services),
    contextValues: (req) =>
      createContextValues().set(kOrigin, {
        listener: "mtls",
        remoteIp: req.socket.remoteAddress,
        peer: peerOf(req),
      }),
  });
  const nodeHttp = opts.features
    .flatMap((f) => f.nodeHttp ?? [])
    .map((h) => h(deps, opts.shutdown ?? new AbortController().signal));
  const log = deps.log.child({ component: "mtls" });
  const serve = async (req: Http2ServerRequest, res: Http2ServerResponse) => {
    guard.track(req, res);
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    const over = refuseOversizedBody(
      "mtls",
      path,
      req.headers["content-length"],
      req.headers["content-type"],
    );
    if (over) return writeSimple(res, over.status, over.headers, over.body);
    if (isOciPath(path) && (await serveFetch(nodeHttp, req, res))) return;
    return handler(req, res);
  };
  const server = createSecureServer(
    {
      key: identity.keyPem,
      cert: identity.certPem,
      ca: deps.ca.certPem,
      requestCert: true,
      rejectUnauthorized: false,
      allowHTTP1: true,
      minVersion: "TLSv1.2",
    },
    (req: Http2ServerRequest, res) =>
      void serve(req, res).catch((e: unknown) => {
        log.error("serving a node listener request", { path: req.url, error: e });
        res.destroy();
      }),
  );
  const guard = guardNodeConnections(server, deps.config.limits, deps.metrics);
  if (opts.directNodeCalls !== false) {
    const direct = createNodeUnaryPath(deps, {
      services,
      principals: principalsOf(opts.features),
      router: options,
      guard,
      contextValues: (stream) =>
        createContextValues().set(kOrigin, {
          listener: "mtls",
          remoteIp: stream.session?.socket?.remoteAddress,
          peer: peerOfSession(stream.session),
        }),
    });
    // The compatibility layer's own "stream" listener serves what the direct path does not take.
    const [compat] = server.listeners("stream") as ((...args: unknown[]) => void)[];
    if (!compat) throw new Error("node:http2 server without its compatibility stream listener");
    server.removeListener("stream", compat);
    server.on("stream", (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, ...rest: unknown[]) => {
      if (!direct.serve(stream, headers)) compat.call(server, stream, headers, ...rest);
    });
  }
  // No socket idle timeout: node-connections.ts times headers and bodies; streams are long-lived.
  server.setTimeout(0);
  const { port, close } = await listenTracked(server, opts.host, opts.port);
  return {
    port,
    server,
    close,
  };
}
