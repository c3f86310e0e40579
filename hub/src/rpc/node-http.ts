/**
 * Fetch-style handlers (`(Request) => Response | undefined`) on the `node:http2` listener, for the
 * features' `nodeHttp` routes (OCI reads at `/v2/`). Requests without a body only (GET, HEAD): the
 * node listener takes no uploads. Response bodies are streamed with backpressure and cancelled when
 * the client goes away, so a module blob of hundreds of MiB never sits in memory.
 */
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";

/** A fetch-style handler: an answer, or undefined for a path it does not serve. */
export type FetchHandler = (request: Request) => Promise<Response | undefined>;

// With `allowHTTP1` an HTTP/1.1 request arrives on the same callback as an http.IncomingMessage and
// ServerResponse; the calls made here exist on both.
type AnyRequest = Http2ServerRequest;
type AnyResponse = Http2ServerResponse;

const isH2 = (res: AnyResponse) => res.req?.httpVersion === "2.0";

/** Headers HTTP/2 forbids (RFC 9113 §8.2.2) and that HTTP/1.1 hop-by-hop rules drop anyway. */
const HOP_BY_HOP = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"]);

/** Writes `status`, `headers` and `body`, leaving out headers the response's HTTP version forbids. */
export function writeSimple(
  res: AnyResponse,
  status: number,
  headers: Record<string, string>,
  body: string,
): void {
  const h2 = isH2(res);
  const out = Object.fromEntries(Object.entries(headers).filter(([k]) => !h2 || !HOP_BY_HOP.has(k)));
  res.writeHead(status, out);
  res.end(body);
}

/** The fetch Request of a `node:http2` request (pseudo-headers dropped); `init` adds a body or signal. */
export function toRequest(req: AnyRequest, init: RequestInit = {}): Request {
  const authority = req.headers[":authority"] ?? req.headers.host ?? "localhost";
  const headers = new Headers();
  for (const [k, v] of Object.entries(req.headers)) {
    if (k.startsWith(":") || v === undefined) continue;
    headers.set(k, Array.isArray(v) ? v.join(", ") : v);
  }
  return new Request(`https://${authority}${req.url ?? "/"}`, {
    ...init,
    method: req.method ?? "GET",
    headers,
  });
}

/** Waits for room in `res`'s buffer (or its end), leaving no listener behind. */
function drainedOrClosed(res: AnyResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off("drain", done);
      res.off("close", done);
      resolve();
    };
    res.on("drain", done);
    res.on("close", done);
  });
}

/**
 * Answers `req` with the first handler that serves it; false when none does (the caller goes on).
 * Methods with a body are refused (405) without reading it.
 */
export async function serveFetch(
  handlers: readonly FetchHandler[],
  req: AnyRequest,
  res: AnyResponse,
): Promise<boolean> {
  const method = req.method ?? "GET";
  if (method !== "GET" && method !== "HEAD") {
    writeSimple(
      res,
      405,
      { "content-type": "application/json", allow: "GET, HEAD", connection: "close" },
      JSON.stringify({
        errors: [
          {
            code: "UNSUPPORTED",
            message: "the node listener serves reads only: push to the operator listener",
          },
        ],
      }),
    );
    return true;
  }
  let answer: Response | undefined;
  for (const h of handlers) {
    answer = await h(toRequest(req));
    if (answer) break;
  }
  if (!answer) return false;
  await writeFetchResponse(res, answer, method);
  return true;
}

/**
 * Writes a fetch Response to a `node:http2` (or HTTP/1.1) response: status, headers the version
 * allows, the body streamed with backpressure and cancelled when the client goes away.
 */
export async function writeFetchResponse(res: AnyResponse, answer: Response, method: string): Promise<void> {
  const h2 = isH2(res);
  const headers: Record<string, string> = {};
  answer.headers.forEach((v, k) => {
    if (!h2 || !HOP_BY_HOP.has(k)) headers[k] = v;
  });
  res.writeHead(answer.status, headers);
  if (method === "HEAD" || !answer.body) {
    await answer.body?.cancel();
    res.end();
    return;
  }
  const reader = answer.body.getReader();
  let gone = false;
  const onClose = () => {
    gone = true;
  };
  res.once("close", onClose);
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done || gone) break;
      if (!res.write(value)) {
        await drainedOrClosed(res);
      }
    }
    if (!gone) res.end();
  } finally {
    res.off("close", onClose);
    if (gone) await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}
