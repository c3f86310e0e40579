import { afterAll, describe, expect, test } from "bun:test";
import { createRegistryFetch, parseChallenge } from "./registry-fetch.ts";

describe("parseChallenge", () => {
  test("reads a Bearer challenge's quoted parameters", () => {
    expect(
      parseChallenge(
        'Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull"',
      ),
    ).toEqual({
      scheme: "bearer",
      params: {
        realm: "https://auth.example/token",
        service: "registry.example",
        scope: "repository:a/b:pull",
      },
    });
  });
  test("reads Basic and unquoted values, and refuses other schemes", () => {
    expect(parseChallenge('Basic realm="Registry Realm"')).toEqual({
      scheme: "basic",
      params: { realm: "Registry Realm" },
    });
    expect(parseChallenge("bearer realm=/v2/token")?.params.realm).toBe("/v2/token");
    expect(parseChallenge("Digest realm=x")).toBeUndefined();
    expect(parseChallenge(null)).toBeUndefined();
  });
});

/**
 * A registry front that challenges like distribution in token mode: `/v2/...` needs `Bearer good-token`,
 * the realm hands it out for basic `puller:secret`; `/v2/redirect` sends blob reads to `storage`.
 */
const seen: { path: string; authorization: string | null }[] = [];
const storage = Bun.serve({
  port: 0,
  hostname: "127.0.0.1",
  fetch(req) {
    seen.push({ path: new URL(req.url).pathname, authorization: req.headers.get("authorization") });
    return new Response("blob bytes");
  },
});
const registry = Bun.serve({
  port: 0,
  hostname: "127.0.0.1",
  fetch(req) {
    const url = new URL(req.url);
    const auth = req.headers.get("authorization");
    seen.push({ path: url.pathname, authorization: auth });
    if (url.pathname === "/token") {
      const want = `Basic ${Buffer.from("puller:secret").toString("base64")}`;
      if (auth !== want) return new Response("{}", { status: 401 });
      return Response.json({ token: "good-token", expires_in: 300 });
    }
    if (auth !== "Bearer good-token")
      return new Response("{}", {
        status: 401,
        headers: {
          "www-authenticate": `Bearer realm="${url.origin}/token",service="test",scope="repository:m:pull"`,
        },
      });
    if (url.pathname === "/v2/redirect")
      return new Response(null, { status: 307, headers: { location: `${storage.url}blob` } });
    return new Response("ok");
  },
});
afterAll(() => {
  registry.stop(true);
  storage.stop(true);
});

describe("createRegistryFetch", () => {
  test("exchanges a basic credential for a bearer token at the realm, then reuses it", async () => {
    let asked = 0;
    const f = createRegistryFetch({
      credential: () => {
        asked++;
        return { kind: "basic", username: "puller", password: "secret" };
      },
    });
    expect(await (await f(`${registry.url}v2/`)).text()).toBe("ok");
    seen.length = 0;
    expect((await f(`${registry.url}v2/again`)).status).toBe(200);
    expect(seen).toEqual([{ path: "/v2/again", authorization: "Bearer good-token" }]);
    expect(asked).toBe(1);
  });

  test("a wrong credential ends in the token endpoint's 401, named", async () => {
    const f = createRegistryFetch({
      credential: () => ({ kind: "basic", username: "puller", password: "no" }),
    });
    await expect(f(`${registry.url}v2/`)).rejects.toThrow(/token endpoint .*\/token: HTTP 401/);
  });

  test("without a credential the 401 comes back to the caller", async () => {
    const f = createRegistryFetch({});
    expect((await f(`${registry.url}v2/`)).status).toBe(401);
  });

  test("follows a redirect to another origin without the registry's Authorization", async () => {
    const f = createRegistryFetch({
      credential: () => ({ kind: "basic", username: "puller", password: "secret" }),
    });
    seen.length = 0;
    const res = await f(`${registry.url}v2/redirect`);
    expect(await res.text()).toBe("blob bytes");
    expect(seen.at(-1)).toEqual({ path: "/blob", authorization: null });
    expect(seen.some((s) => s.path === "/v2/redirect" && s.authorization === "Bearer good-token")).toBe(true);
  });
});
