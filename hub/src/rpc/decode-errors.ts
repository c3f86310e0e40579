/**
 * Errors a request meets before the interceptors, mapped and counted where they surface. connect-es
 * reads, decompresses and decodes a unary request before any interceptor runs, and answers what goes
 * wrong there itself: a body that does not decode as binary protobuf (`parse binary: premature EOF`
 * for the single byte 0x08, invalid UTF-8, nesting past the decoder's limit), a compressed envelope
 * without an encoding, a failed decompression, all as `internal`, and unlogged. Each router handler is
 * wrapped (`mapDecodeErrors`, both listeners): when a call ended before the interceptors were reached
 * (the outermost interceptor marks the call), its answer is read per protocol (Connect JSON error,
 * Connect end-stream, gRPC trailers, gRPC-Web trailer frame); a decode problem answered `internal` is
 * rewritten to `invalid_argument` with the same message, and every such call is counted
 * (`powernode_rpc_requests_total` by code, `powernode_rpc_malformed_total` for malformed input) and
 * logged. Server-streaming requests are decoded inside the interceptors: input-rules' interceptor
 * maps those with {@link isDecodeProblem}.
 */
import {
  Code,
  type ConnectRouter,
  createContextKey,
  createContextValues,
  type Interceptor,
} from "@connectrpc/connect";
import type { UniversalHandler, UniversalServerResponse } from "@connectrpc/connect/protocol";
import type { Deps } from "../deps.ts";

/** Per-call state shared by the handler wrapper and the interceptors. */
interface EdgeState {
  reached: boolean;
}

const kEdge = createContextKey<EdgeState | undefined>(undefined, { description: "edge state" });

/** The outermost interceptor: marks the call as having passed decoding (and the request gate). */
export function createReachedInterceptor(): Interceptor {
  return (next) => (req) => {
    const state = req.contextValues.get(kEdge);
    if (state) state.reached = true;
    return next(req);
  };
}

/** Messages of connect-es' own `internal` errors that are the request's fault, not the server's. */
const DECODE_PROBLEMS = [
  "parse binary:",
  "received compressed envelope",
  "invalid envelope",
  "decompression failed",
  "protocol error:",
];

/** True for the message of a decode or framing error connect-es raised with the wrong code. */
export function isDecodeProblem(message: string): boolean {
  return DECODE_PROBLEMS.some((p) => message.startsWith(p));
}

export type WireProtocol = "connect" | "grpc" | "grpc_web";

/** The protocol of a request by its content type (what connect-es negotiates on). */
export function protocolOf(contentType: string | null): WireProtocol {
  const ct = (contentType ?? "").toLowerCase();
  if (ct.startsWith("application/grpc-web")) return "grpc_web";
  if (ct.startsWith("application/grpc")) return "grpc";
  return "connect";
}

/** Logs and counts a refused malformed request (method labels come from the router: a fixed set). */
export type MalformedRecorder = (method: string, protocol: WireProtocol, problem: string) => void;

/** The recorder over the hub's log and metrics. */
export function createMalformedRecorder(deps: Pick<Deps, "log" | "metrics">): MalformedRecorder {
  const log = deps.log.child({ component: "rpc" });
  deps.metrics.describe(
    "powernode_rpc_malformed_total",
    "counter",
    "Requests refused as malformed input (decode errors, the edge rule), by method and protocol",
  );
  return (method, protocol, problem) => {
    deps.metrics.inc("powernode_rpc_malformed_total", { method, protocol });
    log.info("malformed request refused", { method, protocol, problem: problem.slice(0, 300) });
  };
}

/** Wraps every handler of `router` in place (both listeners read `router.handlers` after `routes`). */
export function mapDecodeErrors(router: ConnectRouter, deps: Pick<Deps, "log" | "metrics">): void {
  const record = createMalformedRecorder(deps);
  const handlers = router.handlers as UniversalHandler[];
  for (let i = 0; i < handlers.length; i++) {
    const h = handlers[i];
    if (h) handlers[i] = wrapHandler(h, deps, record);
  }
}

interface Outcome {
  code: string;
  message: string;
}

function wrapHandler(
  h: UniversalHandler,
  deps: Pick<Deps, "metrics">,
  record: MalformedRecorder,
): UniversalHandler {
  const method = `${h.service.typeName}/${h.method.name}`;
  const wrapped = async (req: Parameters<UniversalHandler>[0]): Promise<UniversalServerResponse> => {
    const state: EdgeState = { reached: false };
    req.contextValues = (req.contextValues ?? createContextValues()).set(kEdge, state);
    const res = await h(req);
    if (state.reached || res.status === 404 || res.status === 405 || res.status === 415 || res.status === 505)
      return res;
    const protocol = protocolOf(req.header.get("content-type"));
    const fixed = await rewrite(res, protocol);
    if (fixed.outcome) {
      const { code, message } = fixed.outcome;
      deps.metrics.inc("powernode_rpc_requests_total", { method, code: codeName(code) });
      if (code === "invalid_argument") record(method, protocol, message);
    }
    return fixed.res;
  };
  return Object.assign(wrapped, {
    protocolNames: h.protocolNames,
    service: h.service,
    method: h.method,
    requestPath: h.requestPath,
    allowedMethods: h.allowedMethods,
    supportedContentType: h.supportedContentType,
  });
}

/** `invalid_argument` -> `InvalidArgument`, the label the metrics interceptor uses. */
function codeName(code: string): string {
  return code.replace(/(^|_)([a-z])/g, (_, _u: string, c: string) => c.toUpperCase());
}

const GRPC_CODE_NAMES: Record<string, string> = Object.fromEntries(
  Object.entries(Code)
    .filter(([, v]) => typeof v === "number")
    .map(([k, v]) => [
      String(v),
      k.replace(/[A-Z]/g, (c, i: number) => (i === 0 ? c : `_${c}`)).toLowerCase(),
    ]),
);

async function collect(body: AsyncIterable<Uint8Array> | undefined): Promise<Uint8Array> {
  if (!body) return new Uint8Array();
  const chunks: Uint8Array[] = [];
  for await (const c of body) chunks.push(c);
  return Buffer.concat(chunks);
}

function decodeGrpcMessage(v: string | null): string {
  if (!v) return "";
  try {
    return decodeURIComponent(v);
  } catch {
    return v;
  }
}

/** Envelopes of a Connect or gRPC-Web body: [flags, data][]; undefined when the framing is off. */
function splitEnvelopes(buf: Uint8Array): { flags: number; data: Uint8Array }[] | undefined {
  const out: { flags: number; data: Uint8Array }[] = [];
  let at = 0;
  while (at < buf.length) {
    if (at + 5 > buf.length) return undefined;
    const len = new DataView(buf.buffer, buf.byteOffset + at + 1, 4).getUint32(0);
    if (at + 5 + len > buf.length) return undefined;
    out.push({ flags: buf[at] ?? 0, data: buf.subarray(at + 5, at + 5 + len) });
    at += 5 + len;
  }
  return out;
}

function envelope(flags: number, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(5 + data.length);
  out[0] = flags;
  new DataView(out.buffer).setUint32(1, data.length);
  out.set(data, 5);
  return out;
}

const once = (bytes: Uint8Array): AsyncIterable<Uint8Array> => ({
  async *[Symbol.asyncIterator]() {
    yield bytes;
  },
});

/** A JSON error `{code, message}` with a decode problem under `internal` becomes `invalid_argument`. */
function fixJsonError(err: { code?: unknown; message?: unknown } | undefined): Outcome | undefined {
  if (!err || typeof err.code !== "string") return undefined;
  const message = typeof err.message === "string" ? err.message : "";
  const code = err.code === "internal" && isDecodeProblem(message) ? "invalid_argument" : err.code;
  err.code = code;
  return { code, message };
}

/**
 * Reads the outcome of a call that never reached the interceptors and rewrites a decode problem's
 * `internal` to `invalid_argument`. Such an answer is an error only (nothing ran), so its body is small.
 */
async function rewrite(
  res: UniversalServerResponse,
  protocol: WireProtocol,
): Promise<{ res: UniversalServerResponse; outcome?: Outcome }> {
  const header = new Headers(res.header);
  const body = await collect(res.body);
  if (protocol === "grpc") {
    const trailer = res.trailer ?? new Headers();
    const status = trailer.get("grpc-status") ?? "0";
    const message = decodeGrpcMessage(trailer.get("grpc-message"));
    if (status === "0") return { res: { ...res, body: once(body) } };
    if (status === String(Code.Internal) && isDecodeProblem(message))
      trailer.set("grpc-status", String(Code.InvalidArgument));
    return {
      res: { ...res, body: once(body), trailer },
      outcome: { code: GRPC_CODE_NAMES[trailer.get("grpc-status") ?? ""] ?? "unknown", message },
    };
  }
  if (protocol === "grpc_web") {
    const frames = splitEnvelopes(body);
    const last = frames?.at(-1);
    // A compressed trailer frame (flag 0x01: only over compressMinBytes) is passed on as it is.
    if (!frames || !last || (last.flags & 0x80) === 0 || (last.flags & 0x01) !== 0)
      return { res: { ...res, body: once(body) } };
    const lines = new TextDecoder().decode(last.data).split("\r\n");
    const get = (name: string) =>
      lines
        .find((l) => l.toLowerCase().startsWith(`${name}:`))
        ?.slice(name.length + 1)
        .trim() ?? null;
    let status = get("grpc-status") ?? "0";
    const message = decodeGrpcMessage(get("grpc-message"));
    if (status === "0") return { res: { ...res, body: once(body) } };
    if (status === String(Code.Internal) && isDecodeProblem(message)) {
      status = String(Code.InvalidArgument);
      const text = lines.map((l) =>
        l.toLowerCase().startsWith("grpc-status:") ? `grpc-status: ${status}` : l,
      );
      frames[frames.length - 1] = { flags: last.flags, data: new TextEncoder().encode(text.join("\r\n")) };
    }
    const out = Buffer.concat(frames.map((f) => envelope(f.flags, f.data)));
    return {
      res: { ...res, body: once(out) },
      outcome: { code: GRPC_CODE_NAMES[status] ?? "unknown", message },
    };
  }
  // Connect: a unary error is a JSON body with an HTTP error status; a stream ends with an
  // end-stream envelope (flag 0x02) whose JSON may hold `error`.
  if (res.status !== 200) {
    // A compressed error body (over compressMinBytes) is passed on as it is.
    if (header.get("content-encoding")) return { res: { ...res, body: once(body) } };
    let err: { code?: unknown; message?: unknown } | undefined;
    try {
      err = JSON.parse(new TextDecoder().decode(body));
    } catch {
      return { res: { ...res, body: once(body) } };
    }
    const before = err?.code;
    const outcome = fixJsonError(err);
    if (!outcome || before === err?.code) return { res: { ...res, body: once(body) }, outcome };
    const out = new TextEncoder().encode(JSON.stringify(err));
    header.set("content-length", String(out.length));
    return { res: { ...res, status: 400, header, body: once(out) }, outcome };
  }
  const frames = splitEnvelopes(body);
  const end = frames?.find((f) => (f.flags & 0x02) !== 0);
  if (!frames || !end || (end.flags & 0x01) !== 0) return { res: { ...res, body: once(body) } };
  let parsed: { error?: { code?: unknown; message?: unknown } };
  try {
    parsed = JSON.parse(new TextDecoder().decode(end.data));
  } catch {
    return { res: { ...res, body: once(body) } };
  }
  const outcome = fixJsonError(parsed.error);
  const out = Buffer.concat(
    frames.map((f) =>
      f === end
        ? envelope(f.flags, new TextEncoder().encode(JSON.stringify(parsed)))
        : envelope(f.flags, f.data),
    ),
  );
  return { res: { ...res, body: once(out) }, outcome };
}
