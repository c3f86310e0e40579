/**
 * The web console over HTTP: `/` is the page, `/assets/<hashed name>` its script and stylesheet. The
 * console (web/) is built in memory with `bun build` on the first request and kept for the process's
 * life (decision 0018); gzip is served to clients that take it. A build failure is a 503 naming it.
 */
import { buildConsole, type ConsoleBuild } from "@powernode/web";
import { Elysia } from "elysia";
import type { Deps } from "../deps.ts";
import { assetHeaders, INDEX_HEADERS } from "./headers.ts";

interface Served {
  indexHtml: string;
  assets: Map<string, { contentType: string; bytes: Uint8Array<ArrayBuffer>; gzip: Uint8Array<ArrayBuffer> }>;
}

function toServed(b: ConsoleBuild): Served {
  return {
    indexHtml: b.indexHtml,
    assets: new Map(
      b.assets.map((a) => [
        a.name,
        { contentType: a.contentType, bytes: a.bytes, gzip: Bun.gzipSync(a.bytes) },
      ]),
    ),
  };
}

/** The console plugin; `build` is for tests (default: web/'s buildConsole). */
export function consoleRoutes(deps: Deps, build: () => Promise<ConsoleBuild> = buildConsole) {
  let served: Promise<Served> | undefined;
  const get = () => {
    served ??= build().then(toServed, (err) => {
      served = undefined; // the next request tries again
      throw err;
    });
    return served;
  };
  const unavailable = (err: unknown) => {
    deps.log.error("web console build failed", { error: err });
    return new Response(`web console unavailable: ${err instanceof Error ? err.message : String(err)}\n`, {
      status: 503,
      headers: { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" },
    });
  };
  return new Elysia({ name: "console" })
    .get("/", async () => {
      try {
        return new Response((await get()).indexHtml, { headers: INDEX_HEADERS });
      } catch (err) {
        return unavailable(err);
      }
    })
    .get("/assets/:name", async ({ params, request }) => {
      let s: Served;
      try {
        s = await get();
      } catch (err) {
        return unavailable(err);
      }
      const a = s.assets.get(params.name);
      if (!a) return new Response("not found\n", { status: 404, headers: { "content-type": "text/plain" } });
      const gzip = /\bgzip\b/.test(request.headers.get("accept-encoding") ?? "");
      const headers: Record<string, string> = { ...assetHeaders(a.contentType), vary: "accept-encoding" };
      if (gzip) headers["content-encoding"] = "gzip";
      return new Response(gzip ? a.gzip : a.bytes, { headers });
    });
}
