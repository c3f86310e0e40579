import { describe, expect, test } from "bun:test";
import { ASSET_DIR, buildConsole } from "./build.ts";

describe("buildConsole", () => {
  test("one hashed script and stylesheet, linked from index.html; no inline script or style", async () => {
    const b = await buildConsole();
    const names = b.assets.map((a) => a.name);
    expect(names).toHaveLength(2);
    expect(names.filter((n) => /^main-[a-z0-9]+\.css$/.test(n))).toHaveLength(1);
    expect(names.filter((n) => /^main-[a-z0-9]+\.js$/.test(n))).toHaveLength(1);
    for (const n of names) expect(b.indexHtml).toContain(`"${ASSET_DIR}/${n}"`);
    const scripts = [...b.indexHtml.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
    expect(scripts).toHaveLength(1);
    expect(scripts[0]?.[1]).toContain('src="');
    expect(scripts[0]?.[2]).toBe("");
    expect(b.indexHtml).not.toMatch(/<style|\sstyle=|\son[a-z]+=/i);
    const js = new TextDecoder().decode(b.assets.find((a) => a.name.endsWith(".js"))?.bytes);
    // The browser bundle carries no Node-only module (the proto barrel's crypto helpers stay out).
    expect(js).not.toContain("node:crypto");
    // The token goes to session storage, never to local storage or a cookie.
    expect(js).toContain("sessionStorage");
    expect(js).not.toContain("localStorage");
    expect(js).not.toContain("document.cookie");
  }, 30_000);
});
