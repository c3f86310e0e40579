/**
 * A raw RPC client for tests that must send bytes no generated client would: any body, framed for
 * Connect (unary or streaming), gRPC or gRPC-Web, over fetch (the HTTP listener) or one HTTP/2 session
 * (the mTLS listener, with or without a client certificate). The answer is reduced to the HTTP status
 * and the Connect code name (`ok`, `invalid_argument`, ...) and message, whichever protocol carried it.
 */
import { type ClientHttp2Session, connect as http2Connect } from "node:http2";
import { Code } from "@connectrpc/connect";

export type RawProtocol = "connect" | "grpc" | "grpc-web";

/** One raw call. */
export interface RawCall {
  /** `/powernode.v1.FleetService/ListNodes` */
  path: string;
  protocol: RawProtocol;
  format: "proto" | "json";
  /** The message bytes (framed here unless `framed`). */
  body: Uint8Array;
  /** The body is sent as it is (already enveloped, or deliberately broken framing). */
  framed?: boolean;
  /** Connect only: the method streams (server streaming): envelopes and `application/connect+...`. */
  stream?: boolean;
  headers?: Record<string, string>;
}

/** The outcome: HTTP status, Connect code name and message. */
export interface RawAnswer {
  status: number;
  code: string;
  message: string;
}

const CODE_NAMES: Record<number, string> = {
  0: "ok",
  ...Object.fromEntries(
    Object.entries(Code)
      .filter(([, v]) => typeof v === "number")
      .map(([k, v]) => [v, k.replace(/[A-Z]/g, (c, i: number) => (i === 0 ? c : `_${c}`)).toLowerCase()]),
  ),
};

/** The envelope of Connect streaming, gRPC and gRPC-Web: flags, big-endian length, data. */
export function envelope(data: Uint8Array, flags = 0): Uint8Array {
  const out = new Uint8Array(5 + data.length);
  out[0] = flags;
  new DataView(out.buffer).setUint32(1, data.length);
  out.set(data, 5);
  return out;
}

function frames(buf: Uint8Array): { flags: number; data: Uint8Array }[] {
  const out: { flags: number; data: Uint8Array }[] = [];
  let at = 0;
  while (at + 5 <= buf.length) {
    const len = new DataView(buf.buffer, buf.byteOffset + at + 1, 4).getUint32(0);
    out.push({ flags: buf[at] ?? 0, data: buf.subarray(at + 5, at + 5 + len) });
    at += 5 + len;
  }
  return out;
}

function contentType(c: RawCall): string {
  if (c.protocol === "grpc") return `application/grpc+${c.format}`;
  if (c.protocol === "grpc-web") return `application/grpc-web+${c.format}`;
  return c.stream ? `application/connect+${c.format}` : `application/${c.format}`;
}

function requestBody(c: RawCall): Uint8Array {
  if (c.framed) return c.body;
  return c.protocol === "connect" && !c.stream ? c.body : envelope(c.body);
}

function decodeMessage(v: string | null | undefined): string {
  try {
    return decodeURIComponent(v ?? "");
  } catch {
    return v ?? "";
  }
}

/** Reduces a response to status, code and message. */
function answer(
  c: RawCall,
  status: number,
  header: (name: string) => string | null,
  body: Uint8Array,
  trailer: (name: string) => string | null,
): RawAnswer {
  const grpcStatus = (get: (name: string) => string | null): RawAnswer | undefined => {
    const s = get("grpc-status");
    if (s === null) return undefined;
    return {
      status,
      code: CODE_NAMES[Number(s)] ?? `grpc-status ${s}`,
      message: decodeMessage(get("grpc-message")),
    };
  };
  if (c.protocol === "grpc") {
    return grpcStatus(trailer) ?? grpcStatus(header) ?? { status, code: `http ${status}`, message: "" };
  }
  if (c.protocol === "grpc-web") {
    const fromHeader = grpcStatus(header);
    if (fromHeader) return fromHeader;
    const t = frames(body).find((f) => (f.flags & 0x80) !== 0);
    if (!t) return { status, code: `http ${status}`, message: new TextDecoder().decode(body).slice(0, 200) };
    const lines = new TextDecoder().decode(t.data).split("\r\n");
    const get = (name: string) =>
      lines
        .find((l) => l.toLowerCase().startsWith(`${name}:`))
        ?.slice(name.length + 1)
        .trim() ?? null;
    return grpcStatus(get) ?? { status, code: "no grpc-status", message: "" };
  }
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  if (!c.stream) {
    if (status === 200) return { status, code: "ok", message: "" };
    try {
      const j = JSON.parse(text(body)) as { code?: string; message?: string };
      return { status, code: j.code ?? `http ${status}`, message: j.message ?? "" };
    } catch {
      return { status, code: `http ${status}`, message: text(body).slice(0, 200) };
    }
  }
  if (status !== 200) return { status, code: `http ${status}`, message: text(body).slice(0, 200) };
  const end = frames(body).find((f) => (f.flags & 0x02) !== 0);
  if (!end) return { status, code: "no end-stream", message: "" };
  const j = JSON.parse(text(end.data)) as { error?: { code?: string; message?: string } };
  return j.error
    ? { status, code: j.error.code ?? "unknown", message: j.error.message ?? "" }
    : { status, code: "ok", message: "" };
}

/** A raw client over fetch: the HTTP listener (HTTP/1.1). */
export function fetchClient(baseUrl: string, headers: Record<string, string> = {}) {
  return {
    async call(c: RawCall, signal?: AbortSignal): Promise<RawAnswer> {
      const res = await fetch(`${baseUrl}${c.path}`, {
        method: "POST",
        headers: { "content-type": contentType(c), ...headers, ...c.headers },
        body: requestBody(c),
        signal,
      });
      const body = new Uint8Array(await res.arrayBuffer());
      return answer(
        c,
        res.status,
        (n) => res.headers.get(n),
        body,
        () => null,
      );
    },
    close() {},
  };
}

/** A raw client over one HTTP/2 session: the mTLS listener, with an optional client certificate. */
export function http2Client(
  baseUrl: string,
  tls: { ca: string; cert?: string; key?: string },
  headers: Record<string, string> = {},
) {
  let session: ClientHttp2Session | undefined;
  const open = () => {
    if (session && !session.closed && !session.destroyed) return session;
    session = http2Connect(baseUrl, { ca: tls.ca, cert: tls.cert, key: tls.key });
    session.on("error", () => {});
    return session;
  };
  return {
    call(c: RawCall, signal?: AbortSignal): Promise<RawAnswer> {
      return new Promise<RawAnswer>((resolve, reject) => {
        const s = open();
        const req = s.request(
          {
            ":method": "POST",
            ":path": c.path,
            "content-type": contentType(c),
            te: "trailers",
            ...headers,
            ...c.headers,
          },
          { signal },
        );
        let status = 0;
        let head: Record<string, string | string[] | undefined> = {};
        let trail: Record<string, string | string[] | undefined> = {};
        const chunks: Buffer[] = [];
        req.on("response", (h) => {
          status = Number(h[":status"]);
          head = h;
        });
        req.on("trailers", (t) => {
          trail = t;
        });
        req.on("data", (d: Buffer) => chunks.push(d));
        req.on("error", reject);
        req.on("end", () => {
          const get = (o: Record<string, string | string[] | undefined>) => (n: string) => {
            const v = o[n];
            return v === undefined ? null : String(v);
          };
          resolve(answer(c, status, get(head), Buffer.concat(chunks), get(trail)));
        });
        req.end(requestBody(c));
      });
    },
    close() {
      session?.close();
    },
  };
}

export type RawClient = ReturnType<typeof fetchClient>;
