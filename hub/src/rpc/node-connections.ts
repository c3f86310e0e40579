/**
 * Connection limits of the node (mTLS) listener and of the operator TLS listener (decision 0016), at
 * the socket level, below Connect; each listener has its own numbers (HubLimits):
 * - at most `maxConnectionsPerAddress` open connections per source address (others are closed at once);
 * - headers: from accept, and again whenever a connection has no request in flight, a request's headers
 *   must be complete within `headersTimeoutMs` (this covers the TLS handshake, a half-sent request line
 *   and an idle HTTP/1.1 keep-alive); an HTTP/2 session whose client certificate verified may instead
 *   stay idle `idleTimeoutMs` (agents keep one open);
 * - body: a request's body must have arrived in full within `bodyTimeoutMs` of its headers. No method
 *   has a streaming request, so this never cuts an RPC stream: WatchDesiredState and the other server
 *   streams send one request message and then only receive, and a response in flight keeps its
 *   connection open for as long as it lasts.
 * Source addresses in `exemptAddresses` have no connection cap (timeouts still apply). On the operator
 * listener no client has a certificate: every HTTP/2 session gets the idle limit, and the body limit is
 * long (module blobs are uploaded there).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import {
  constants,
  type Http2SecureServer,
  type Http2ServerRequest,
  type Http2ServerResponse,
  type Http2Session,
  type ServerHttp2Stream,
} from "node:http2";
import type { Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import type { HubLimits } from "../limits.ts";
import { normaliseAddress } from "../limits.ts";
import type { Metrics } from "../metrics/registry.ts";

/**
 * Per-connection state, kept on the socket under a symbol: Bun hands HTTP/2 requests a proxy of the
 * socket, which forwards property reads, so the same state is found from a session and its requests.
 */
const kConn = Symbol("powernode.connection");

interface Conn {
  socket: Socket;
  address: string;
  session: Http2Session | undefined;
  h2: boolean;
  /** The client certificate verified against the hub CA. */
  authorized: boolean;
  inFlight: number;
  timer: ReturnType<typeof setTimeout> | undefined;
}

type AnyRequest = IncomingMessage | Http2ServerRequest;
type AnyResponse = ServerResponse | Http2ServerResponse;

/** What the listener's request handler calls. */
export interface NodeConnectionGuard {
  /** Tracks one request: in flight until its response closes, dropped if its body is not in by then. */
  track(req: AnyRequest, res: AnyResponse): void;
  /** The same for a raw HTTP/2 stream (node-unary.ts): in flight until the stream closes. */
  trackStream(stream: ServerHttp2Stream): void;
  /** Open connections from `address` (tests). */
  connections(address: string): number;
}

function connOf(s: unknown): Conn | undefined {
  return (s as { [kConn]?: Conn } | undefined)?.[kConn];
}

/** True when the whole request body has been received (whether or not anyone has read it yet). */
function bodyReceived(req: AnyRequest): boolean {
  if ("stream" in req && req.stream) return req.stream.state?.remoteClose === 1 || req.stream.readableEnded;
  return (req as IncomingMessage).complete;
}

/** One listener's connection rules. */
export interface ConnectionRules {
  /** `node` or `operator`: the metrics' prefix. */
  listener: "node" | "operator";
  maxConnectionsPerAddress: number;
  exemptAddresses: readonly string[];
  headersTimeoutMs: number;
  bodyTimeoutMs: number;
  idleTimeoutMs: number;
  /** True: only an HTTP/2 session with a verified client certificate may idle `idleTimeoutMs`. */
  idleNeedsClientCert: boolean;
}

/** The node listener's rules from the hub's limits. */
export function nodeConnectionRules(limits: HubLimits): ConnectionRules {
  return {
    listener: "node",
    maxConnectionsPerAddress: limits.maxConnectionsPerAddress,
    exemptAddresses: limits.exemptAddresses,
    headersTimeoutMs: limits.headersTimeoutMs,
    bodyTimeoutMs: limits.bodyTimeoutMs,
    idleTimeoutMs: limits.idleTimeoutMs,
    idleNeedsClientCert: true,
  };
}

/** The operator TLS listener's rules from the hub's limits. */
export function operatorConnectionRules(limits: HubLimits): ConnectionRules {
  return {
    listener: "operator",
    maxConnectionsPerAddress: limits.operatorConnectionsPerAddress,
    exemptAddresses: limits.exemptAddresses,
    headersTimeoutMs: limits.operatorHeadersTimeoutMs,
    bodyTimeoutMs: limits.operatorBodyTimeoutMs,
    idleTimeoutMs: limits.operatorIdleTimeoutMs,
    idleNeedsClientCert: false,
  };
}

/** Applies the node listener's limits to `server`'s connections. */
export function guardNodeConnections(
  server: Http2SecureServer,
  limits: HubLimits,
  metrics: Metrics,
): NodeConnectionGuard {
  return guardConnections(server, nodeConnectionRules(limits), metrics);
}

/** Applies `rules` to `server`'s connections. */
export function guardConnections(
  server: Http2SecureServer,
  limits: ConnectionRules,
  metrics: Metrics,
): NodeConnectionGuard {
  const name = limits.listener;
  const refused = `powernode_${name}_connections_refused_total`;
  const timeouts = `powernode_${name}_timeouts_total`;
  metrics.describe(
    refused,
    "counter",
    `Connections to the ${name} listener closed at once: their source address had too many open`,
  );
  metrics.describe(
    timeouts,
    "counter",
    `${name === "node" ? "Node" : "Operator"} listener connections or requests dropped by a timeout (kind: headers, body, idle)`,
  );
  const exempt = new Set(limits.exemptAddresses.map(normaliseAddress));
  const perAddress = new Map<string, number>();

  const arm = (c: Conn) => {
    if (c.timer) clearTimeout(c.timer);
    const idle = c.h2 && (c.authorized || !limits.idleNeedsClientCert);
    c.timer = setTimeout(
      () => {
        c.timer = undefined;
        if (c.inFlight > 0) return;
        metrics.inc(timeouts, { kind: idle ? "idle" : "headers" });
        if (c.session) {
          // HTTP/2: GOAWAY, so a client about to send opens a new session; the socket goes a second later.
          c.session.close();
          setTimeout(() => c.socket.destroy(), 1000).unref?.();
        } else c.socket.destroy();
      },
      idle ? limits.idleTimeoutMs : limits.headersTimeoutMs,
    );
    c.timer.unref?.();
  };

  server.on("connection", (socket: Socket) => {
    const address = normaliseAddress(socket.remoteAddress);
    const open = perAddress.get(address) ?? 0;
    if (
      limits.maxConnectionsPerAddress > 0 &&
      !exempt.has(address) &&
      open >= limits.maxConnectionsPerAddress
    ) {
      metrics.inc(refused, {});
      socket.destroy();
      return;
    }
    perAddress.set(address, open + 1);
    const c: Conn = {
      socket,
      address,
      session: undefined,
      h2: false,
      authorized: false,
      inFlight: 0,
      timer: undefined,
    };
    (socket as unknown as { [kConn]: Conn })[kConn] = c;
    arm(c);
    socket.once("close", () => {
      if (c.timer) clearTimeout(c.timer);
      const n = (perAddress.get(address) ?? 1) - 1;
      if (n <= 0) perAddress.delete(address);
      else perAddress.set(address, n);
    });
  });
  server.on("session", (session: Http2Session) => {
    const c = connOf(session.socket);
    if (!c) return;
    c.session = session;
    c.h2 = true;
  });
  server.on("secureConnection", (socket: TLSSocket) => {
    const c = connOf(socket);
    if (!c) return;
    c.authorized = socket.authorized === true;
    c.h2 ||= socket.alpnProtocol === "h2";
    if (c.inFlight === 0) arm(c);
  });

  /** Counts a request in flight on its connection; drops it if its body is not in within the limit. */
  const begin = (
    socket: unknown,
    received: () => boolean,
    cancel: () => void,
    onClose: (f: () => void) => void,
  ) => {
    const c = connOf(socket);
    if (c) {
      c.inFlight++;
      if (c.timer) clearTimeout(c.timer);
      c.timer = undefined;
    }
    let body: ReturnType<typeof setTimeout> | undefined;
    if (!received()) {
      body = setTimeout(() => {
        body = undefined;
        if (received()) return;
        metrics.inc(timeouts, { kind: "body" });
        cancel();
      }, limits.bodyTimeoutMs);
      body.unref?.();
    }
    onClose(() => {
      if (body) clearTimeout(body);
      if (!c) return;
      c.inFlight--;
      if (c.inFlight === 0 && !c.socket.destroyed) arm(c);
    });
  };

  return {
    track(req, res) {
      begin(
        req.socket,
        () => bodyReceived(req),
        () => {
          if ("stream" in req && req.stream) req.stream.close(constants.NGHTTP2_CANCEL);
          else req.socket.destroy();
        },
        (f) => res.once("close", f),
      );
    },
    trackStream(stream) {
      begin(
        stream.session?.socket,
        () => stream.state?.remoteClose === 1 || stream.readableEnded,
        () => stream.close(constants.NGHTTP2_CANCEL),
        (f) => stream.once("close", f),
      );
    },
    connections: (address) => perAddress.get(normaliseAddress(address)) ?? 0,
  };
}
