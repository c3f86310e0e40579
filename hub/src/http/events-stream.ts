/**
 * `/events/stream`: fleet events as server-sent events, live, filtered by `?kind=<prefix>&node=<uuid>`.
 * Needs `Authorization: Bearer <operator token>`. Sends a comment line every 15 s as keepalive.
 */
import { Elysia } from "elysia";
import type { Deps } from "../deps.ts";
import type { FleetEventRecord } from "../events/index.ts";
import { bearerToken } from "../rpc/interceptors.ts";

const KEEPALIVE_MS = 15_000;
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function toSse(e: FleetEventRecord): string {
  const data = JSON.stringify({
    id: e.id,
    kind: e.kind,
    severity: e.severity,
    payload: e.payload,
    correlationId: e.correlationId,
    nodeId: e.nodeId,
    createdAt: e.createdAt.toISOString(),
  });
  return `id: ${e.id}\nevent: ${e.kind}\ndata: ${data}\n\n`;
}

/** The SSE plugin. */
export function eventStreamRoutes(deps: Deps) {
  return new Elysia({ name: "events-stream" }).get("/events/stream", async ({ request, server, set }) => {
    const token = bearerToken(request.headers.get("authorization"));
    if (!token || !(await deps.adminAuth.verify(token))) {
      set.status = 401;
      return { error: "authorization: bearer operator token required" };
    }
    const url = new URL(request.url);
    const node = url.searchParams.get("node") ?? undefined;
    if (node !== undefined && !UUID_RE.test(node)) {
      set.status = 400;
      return { error: "node: not a UUID" };
    }
    server?.timeout(request, 0);
    const encoder = new TextEncoder();
    let cleanup = () => {};
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        const send = (s: string) => {
          try {
            controller.enqueue(encoder.encode(s));
          } catch {
            cleanup();
          }
        };
        const unsubscribe = deps.events.subscribe(
          { kindPrefix: url.searchParams.get("kind") ?? undefined, nodeId: node },
          (e) => send(toSse(e)),
        );
        const timer = setInterval(() => send(": keepalive\n\n"), KEEPALIVE_MS);
        cleanup = () => {
          clearInterval(timer);
          unsubscribe();
        };
        request.signal.addEventListener("abort", () => {
          cleanup();
          try {
            controller.close();
          } catch {
            // Already closed by the client going away; nothing left to release.
          }
        });
        send(": connected\n\n");
      },
      cancel() {
        cleanup();
      },
    });
    return new Response(body, {
      headers: { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" },
    });
  });
}
