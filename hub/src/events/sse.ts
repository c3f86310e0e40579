/**
 * `/events/stream`: fleet events as server-sent events, live, filtered by `?kind=<prefix>&node=<uuid>`.
 * Needs `Authorization: Bearer <operator token>`. Sends a comment line every 15 s as keepalive.
 */
import { Elysia } from "elysia";
import type { Deps } from "../deps.ts";
import { isUuid } from "../rpc/fields.ts";
import { bearerToken } from "../rpc/interceptors.ts";
import { watch } from "../rpc/watch.ts";
import type { FleetEventRecord } from "./index.ts";

const KEEPALIVE_MS = 15_000;

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
    if (node !== undefined && !isUuid(node)) {
      set.status = 400;
      return { error: "node: not a UUID" };
    }
    server?.timeout(request, 0);
    const encoder = new TextEncoder();
    const abort = new AbortController();
    request.signal.addEventListener("abort", () => abort.abort());
    const live = watch<FleetEventRecord | null>({
      signal: abort.signal,
      subscribe: (push) =>
        deps.events.subscribe({ kindPrefix: url.searchParams.get("kind") ?? undefined, nodeId: node }, push),
      keepaliveMs: KEEPALIVE_MS,
      keepalive: () => null,
    });
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(encoder.encode(": connected\n\n"));
      },
      async pull(controller) {
        const next = await live.next();
        if (next.done) controller.close();
        else controller.enqueue(encoder.encode(next.value === null ? ": keepalive\n\n" : toSse(next.value)));
      },
      cancel() {
        abort.abort();
        void live.return(undefined);
      },
    });
    return new Response(body, {
      headers: { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" },
    });
  });
}
