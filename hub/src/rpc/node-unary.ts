/**
 * The node listener's direct path for the calls nodes make most (decision 0029): a unary method whose
 * principal is `node`, in Connect's binary form (`POST`, `content-type: application/proto`, no request
 * compression), is served from the raw HTTP/2 stream instead of through the `node:http2` compatibility
 * objects and connect-node's universal request and response (together ~60 % of the hub's CPU per
 * heartbeat in bench/heartbeat.ts). The steps are connect-es' own unary handler's, in its order: the
 * request gate before the body is read (rate limit, node identity), the body limit with connect-es'
 * messages, binary decoding, the router's interceptor chain through connect-es' own
 * `invokeUnaryImplementation` (metrics, errors, auth, the edge rule), the JSON error body with its HTTP
 * status and the error's metadata. What decode-errors.ts fixes after connect-es (a decode problem is
 * `invalid_argument`; calls that end before the interceptors are counted and malformed ones recorded)
 * is done where the error happens. Differences, none visible to a unary node method: the context's
 * signal is the hub's shutdown (no such method watches its call's signal), a `connect-timeout-ms`
 * deadline is reported by `timeoutMs()` only, and answers are never compressed. Everything else (JSON,
 * gRPC, gRPC-Web, compressed requests, malformed headers, streams, other principals) goes to Connect;
 * node-unary.db.test.ts sends the same calls both ways and compares the answers.
 */
import type { ServerHttp2Stream } from "node:http2";
import {
  type DescMessage,
  type DescMethodUnary,
  type DescService,
  fromBinary,
  toBinary,
} from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  type ConnectRouterOptions,
  type ContextValues,
  createServiceImplSpec,
  type HandlerContext,
} from "@connectrpc/connect";
import { invokeUnaryImplementation, mergeNonProtocolHeaders } from "@connectrpc/connect/protocol";
import {
  codeToHttpStatus,
  errorToJsonBytes,
  parseTimeout,
  trailerMux,
} from "@connectrpc/connect/protocol-connect";
import type { Deps } from "../deps.ts";
import type { Principal } from "../feature.ts";
import { refuseOversizedBody } from "./body-limit.ts";
import { createMalformedRecorder } from "./decode-errors.ts";
import type { NodeConnectionGuard } from "./node-connections.ts";
import type { BoundService } from "./routes.ts";

type UnarySpec = Extract<ReturnType<typeof createServiceImplSpec>["methods"][string], { kind: "unary" }>;

interface Route {
  /** `powernode.v1.NodeService/Heartbeat`: the metrics' method label. */
  name: string;
  spec: UnarySpec;
  method: DescMethodUnary<DescMessage, DescMessage>;
}

/** Headers that send a request to Connect: compression is its to handle. */
const CONNECT_ONLY_HEADERS = ["content-encoding", "connect-content-encoding"];

const NEVER = new AbortController().signal;

function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * The request body as it arrives (the gate runs meanwhile), with connect-es' errors: a declared length
 * over the limit or not kept to, more than the limit without one. Past the limit nothing more is kept.
 */
function readBody(
  stream: ServerHttp2Stream,
  readMaxBytes: number,
  contentLength: string | undefined,
): Promise<Uint8Array | ConnectError> {
  const declared =
    contentLength !== undefined && /^\d+$/.test(contentLength) ? Number(contentLength) : undefined;
  if (declared !== undefined && declared > readMaxBytes) {
    stream.resume();
    return Promise.resolve(
      new ConnectError(
        `message size ${declared} is larger than configured readMaxBytes ${readMaxBytes}`,
        Code.ResourceExhausted,
      ),
    );
  }
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    stream.on("data", (c: Buffer) => {
      size += c.length;
      if (size <= readMaxBytes) chunks.push(c);
    });
    stream.once("end", () => {
      if (declared !== undefined && size !== declared)
        resolve(
          new ConnectError(
            `protocol error: promised ${declared} bytes, received ${size}`,
            Code.InvalidArgument,
          ),
        );
      else if (size > readMaxBytes)
        resolve(
          new ConnectError(
            `message size is larger than configured readMaxBytes ${readMaxBytes}`,
            Code.ResourceExhausted,
          ),
        );
      else resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks));
    });
    stream.once("error", () => resolve(new ConnectError("request stream failed", Code.Canceled)));
  });
}

/** The path's options: the node listener's router options and what else the listener has. */
export interface NodeUnaryOptions {
  services: readonly BoundService[];
  principals: ReadonlyMap<string, Principal>;
  router: Partial<ConnectRouterOptions>;
  guard: NodeConnectionGuard;
  /** The call's context values (origin), as the Connect adapter's `contextValues` builds them. */
  contextValues: (stream: ServerHttp2Stream) => ContextValues;
}

/** The direct path: `serve` answers a stream it takes and returns true, or returns false for Connect. */
export interface NodeUnaryPath {
  serve(stream: ServerHttp2Stream, headers: Record<string, string | string[] | undefined>): boolean;
}

/** Builds the path over the same service implementations the Connect router serves. */
export function createNodeUnaryPath(
  deps: Pick<Deps, "log" | "metrics">,
  opts: NodeUnaryOptions,
): NodeUnaryPath {
  const routes = new Map<string, Route>();
  for (const b of opts.services) {
    const spec = createServiceImplSpec(b.service as DescService, b.impl);
    for (const m of Object.values(spec.methods)) {
      const name = `${b.service.typeName}/${m.method.name}`;
      if (m.kind !== "unary" || opts.principals.get(name) !== "node") continue;
      routes.set(`/${name}`, { name, spec: m, method: m.method });
    }
  }
  const record = createMalformedRecorder(deps);
  const router = opts.router;
  const readMaxBytes = router.readMaxBytes ?? 0xffffffff;
  const interceptors = router.interceptors ?? [];
  const maxTimeoutMs = router.maxTimeoutMs ?? Number.MAX_SAFE_INTEGER;

  /** Counts a call that ended before the interceptors (which count the others), as decode-errors.ts does. */
  const countEarly = (route: Route, e: ConnectError) => {
    deps.metrics.inc("powernode_rpc_requests_total", { method: route.name, code: Code[e.code] ?? "Unknown" });
    if (e.code === Code.InvalidArgument) record(route.name, "connect", e.rawMessage);
  };

  const answer = async (
    stream: ServerHttp2Stream,
    route: Route,
    headers: Record<string, string | string[] | undefined>,
    body: Promise<Uint8Array | ConnectError>,
    timeoutMs: number | undefined,
  ) => {
    const deadline = timeoutMs === undefined ? undefined : Date.now() + timeoutMs;
    const requestHeader = new Headers();
    for (const [k, v] of Object.entries(headers)) {
      if (k.startsWith(":") || v === undefined) continue;
      for (const x of Array.isArray(v) ? v : [v]) requestHeader.append(k, x);
    }
    // What connect-es' handler context holds; the signal is the hub's shutdown (no unary node method
    // watches its call's signal: they end with their database work).
    const context: HandlerContext = {
      method: route.method,
      service: route.method.parent,
      requestMethod: "POST",
      protocolName: "connect",
      url: `https://${String(headers[":authority"] ?? "hub")}/${route.name}`,
      signal: router.shutdownSignal ?? NEVER,
      timeoutMs: () => (deadline === undefined ? undefined : deadline - Date.now()),
      requestHeader,
      responseHeader: new Headers({ "content-type": "application/proto" }),
      responseTrailer: new Headers(),
      values: opts.contextValues(stream),
    };
    let status = 200;
    let out: Uint8Array;
    let reached = false;
    try {
      if (router.requestGate) await router.requestGate(context);
      const bytes = await body;
      if (bytes instanceof ConnectError) throw bytes;
      let input: ReturnType<typeof fromBinary>;
      try {
        input = fromBinary(route.method.input, bytes);
      } catch (e) {
        throw new ConnectError(`parse binary: ${errorMessage(e)}`, Code.InvalidArgument);
      }
      reached = true;
      const output = await invokeUnaryImplementation(route.spec, context, input, interceptors);
      try {
        out = toBinary(route.method.output, output);
      } catch (e) {
        throw new ConnectError(`serialize binary: ${errorMessage(e)}`, Code.Internal);
      }
    } catch (e) {
      const error =
        e instanceof ConnectError
          ? e
          : new ConnectError("internal error", Code.Internal, undefined, undefined, e);
      if (!reached) countEarly(route, error);
      status = codeToHttpStatus(error.code);
      context.responseHeader.set("content-type", "application/json");
      if (!error.isWireError) mergeNonProtocolHeaders(context.responseHeader, error.metadata);
      out = errorToJsonBytes(error, router.jsonOptions ?? {});
    }
    if (stream.destroyed || stream.closed) return;
    const response: Record<string, string | number> = { ":status": status };
    trailerMux(context.responseHeader, context.responseTrailer).forEach((v, k) => {
      response[k] = v;
    });
    response["content-length"] = out.byteLength;
    // Headers and body in one go: one TLS record for the whole answer.
    stream.respond(response);
    stream.end(out);
  };

  return {
    serve(stream, headers) {
      const route = routes.get(String(headers[":path"] ?? ""));
      if (!route || headers[":method"] !== "POST" || headers["content-type"] !== "application/proto")
        return false;
      if (CONNECT_ONLY_HEADERS.some((h) => headers[h] !== undefined)) return false;
      const version = headers["connect-protocol-version"];
      if (version !== undefined && version !== "1") return false;
      // A deadline is the handler context's (connect-es does not race unary handlers against it); a
      // malformed one is Connect's to refuse.
      const timeout = parseTimeout(
        (headers["connect-timeout-ms"] as string | undefined) ?? null,
        maxTimeoutMs,
      );
      if (timeout.error) return false;
      // A declared body over the route's limit: Connect's path answers it (413, connection closed).
      const length = headers["content-length"] as string | undefined;
      if (refuseOversizedBody("mtls", `/${route.name}`, length, "application/proto")) return false;
      opts.guard.trackStream(stream);
      const body = readBody(stream, readMaxBytes, length);
      answer(stream, route, headers, body, timeout.timeoutMs).catch((e: unknown) => {
        deps.log.error("serving a node call", { method: route.name, error: e });
        if (!stream.destroyed) stream.close();
      });
      return true;
    },
  };
}
