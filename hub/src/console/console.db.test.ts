import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startTestHub } from "../../test/harness.ts";
import type { RunningHub } from "../hub.ts";
import { consoleRoutes } from "./console-routes.ts";
import { CONSOLE_CSP } from "./headers.ts";

let hub: RunningHub;
beforeAll(async () => {
  hub = await startTestHub();
}, 30_000);
afterAll(async () => {
  await hub.stop();
});

describe("the console over HTTP", () => {
  test("/ is the page with the CSP, revalidated; its assets are immutable, gzip when asked", async () => {
    const page = await fetch(`${hub.httpUrl}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-security-policy")).toBe(CONSOLE_CSP);
    expect(page.headers.get("cache-control")).toBe("no-cache");
    expect(page.headers.get("x-content-type-options")).toBe("nosniff");
    const html = await page.text();
    const srcs = [...html.matchAll(/(?:src|href)="(assets\/[^"]+)"/g)].map((m) => m[1] ?? "");
    expect(srcs).toHaveLength(2);
    for (const src of srcs) {
      const plain = await fetch(`${hub.httpUrl}/${src}`, { headers: { "accept-encoding": "identity" } });
      expect(plain.status).toBe(200);
      expect(plain.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
      expect(plain.headers.get("content-security-policy")).toBe(CONSOLE_CSP);
      expect(plain.headers.get("content-encoding")).toBeNull();
      const body = new Uint8Array(await plain.arrayBuffer());
      const raw = await fetch(`${hub.httpUrl}/${src}`, {
        headers: { "accept-encoding": "gzip" },
        decompress: false,
      });
      expect(raw.headers.get("content-encoding")).toBe("gzip");
      const zipped = new Uint8Array(await raw.arrayBuffer());
      expect(zipped.length).toBeLessThan(body.length);
      expect(Bun.gunzipSync(zipped)).toEqual(body);
    }
    const missing = await fetch(`${hub.httpUrl}/assets/main-nothing.js`);
    expect(missing.status).toBe(404);
  }, 30_000);

  test("a build that fails is a 503 naming it, and is tried again on the next request", async () => {
    let calls = 0;
    const app = consoleRoutes(hub.deps, async () => {
      calls++;
      if (calls === 1) throw new Error("web/src/main.ts: syntax error");
      return { indexHtml: "<!doctype html><p>ok</p>", assets: [] };
    });
    const first = await app.handle(new Request("http://localhost/"));
    expect(first.status).toBe(503);
    expect(await first.text()).toContain("web/src/main.ts: syntax error");
    const second = await app.handle(new Request("http://localhost/"));
    expect(second.status).toBe(200);
    expect(await second.text()).toContain("<p>ok</p>");
    expect(calls).toBe(2);
  });
});
