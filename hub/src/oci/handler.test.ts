import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { OCI_INDEX, OCI_MANIFEST } from "./manifest.ts";
import { sha256, startTestRegistry, TEST_TOKEN, type TestRegistry } from "./test-harness.ts";

let reg: TestRegistry;
beforeAll(async () => {
  reg = await startTestRegistry();
});
afterAll(async () => {
  await reg[Symbol.asyncDispose]();
});

const AUTH = { authorization: `Bearer ${TEST_TOKEN}` };
const call = (
  method: string,
  path: string,
  init: { body?: RequestInit["body"]; headers?: Record<string, string> } = {},
) => fetch(new URL(path, reg.baseUrl), { method, body: init.body, headers: { ...AUTH, ...init.headers } });
const errors = async (res: Response) =>
  ((await res.json()) as { errors: { code: string; message: string; detail?: Record<string, unknown> }[] })
    .errors;
const enc = (s: string) => new TextEncoder().encode(s);

async function pushBlob(repo: string, data: Uint8Array): Promise<string> {
  const res = await call("POST", `/v2/${repo}/blobs/uploads/?digest=${sha256(data)}`, { body: data });
  expect(res.status).toBe(201);
  return sha256(data);
}

function moduleManifest(
  config: Uint8Array,
  layers: Uint8Array[],
  extra: Record<string, unknown> = {},
): string {
  return JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    artifactType: "application/vnd.powernode.module.v1+json",
    config: {
      mediaType: "application/vnd.powernode.module.config.v1+json",
      digest: sha256(config),
      size: config.length,
    },
    layers: layers.map((l) => ({
      mediaType: "application/vnd.powernode.composefs.v1",
      digest: sha256(l),
      size: l.length,
    })),
    ...extra,
  });
}

describe("base and routing", () => {
  test("GET /v2/ challenges anonymous callers and answers 200 with credentials", async () => {
    const anon = await fetch(`${reg.baseUrl}/v2/`);
    expect(anon.status).toBe(401);
    expect(anon.headers.get("www-authenticate")).toBe(
      `Bearer realm="${reg.baseUrl}/v2/token",service="powernode"`,
    );
    expect(anon.headers.get("docker-distribution-api-version")).toBe("registry/2.0");
    const ok = await call("GET", "/v2/");
    expect(ok.status).toBe(200);
    expect(ok.headers.get("docker-distribution-api-version")).toBe("registry/2.0");
    const token = await fetch(`${reg.baseUrl}/v2/token?scope=repository:x:pull`);
    expect(await token.json()).toEqual({ token: "anonymous", access_token: "anonymous" });
  });

  test("other paths pass through the plugin to the app, bodies still parsed by Elysia", async () => {
    expect(await (await fetch(`${reg.baseUrl}/healthz`)).text()).toBe("ok");
    const echo = await fetch(`${reg.baseUrl}/echo`, {
      method: "POST",
      body: '{"a":1}',
      headers: { "content-type": "application/json" },
    });
    expect(await echo.json()).toEqual({ a: 1 });
    expect(
      (await fetch(`${reg.baseUrl}/v2x/anything`)).headers.get("docker-distribution-api-version"),
    ).toBeNull();
  });

  test.each([
    ["GET", "/v2/Bad/blobs/sha256:x", 400, "NAME_INVALID"],
    ["GET", "/v2/a//b/manifests/v1", 400, "NAME_INVALID"],
    ["GET", "/v2/_x/tags/list", 400, "NAME_INVALID"],
    ["GET", "/v2/ok/blobs/sha256:xyz", 400, "DIGEST_INVALID"],
    ["GET", `/v2/ok/blobs/sha512:${"a".repeat(128)}`, 400, "DIGEST_INVALID"],
    ["GET", "/v2/ok/manifests/-bad-tag", 400, "MANIFEST_INVALID"],
    ["GET", "/v2/ok/manifests/md5:abc", 400, "DIGEST_INVALID"],
    ["GET", "/v2/ok/nothing-here", 404, "NAME_UNKNOWN"],
    ["GET", "/v2/ok/%ZZ/blobs/x", 400, "NAME_INVALID"],
    ["POST", "/v2/ok/tags/list", 405, "UNSUPPORTED"],
    ["OPTIONS", "/v2/ok/manifests/v1", 405, "UNSUPPORTED"],
    ["DELETE", `/v2/ok/blobs/${sha256("x")}`, 405, "UNSUPPORTED"],
  ] as const)("%s %s -> %d %s", async (method, path, status, code) => {
    const res = await call(method, path);
    expect(res.status).toBe(status);
    expect((await errors(res)).map((e) => e.code)).toEqual([code]);
  });
});

describe("blobs", () => {
  const data = new Uint8Array(10_000).map((_, i) => i % 256);
  let digest: string;
  beforeAll(async () => {
    digest = await pushBlob("mods/blobs", data);
  });

  test("HEAD and GET give length, digest and content", async () => {
    const head = await fetch(`${reg.baseUrl}/v2/mods/blobs/blobs/${digest}`, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.headers.get("content-length")).toBe("10000");
    expect(head.headers.get("docker-content-digest")).toBe(digest);
    const get = await fetch(`${reg.baseUrl}/v2/mods/blobs/blobs/${digest}`);
    expect(new Uint8Array(await get.arrayBuffer())).toEqual(data);
  });

  test("Range: 206 with Content-Range, suffix ranges, 416 when unsatisfiable", async () => {
    const part = await fetch(`${reg.baseUrl}/v2/mods/blobs/blobs/${digest}`, {
      headers: { range: "bytes=100-199" },
    });
    expect(part.status).toBe(206);
    expect(part.headers.get("content-range")).toBe("bytes 100-199/10000");
    expect(new Uint8Array(await part.arrayBuffer())).toEqual(data.subarray(100, 200));
    const tail = await fetch(`${reg.baseUrl}/v2/mods/blobs/blobs/${digest}`, {
      headers: { range: "bytes=-10" },
    });
    expect(new Uint8Array(await tail.arrayBuffer())).toEqual(data.subarray(9990));
    const bad = await fetch(`${reg.baseUrl}/v2/mods/blobs/blobs/${digest}`, {
      headers: { range: "bytes=10000-" },
    });
    expect(bad.status).toBe(416);
    expect(bad.headers.get("content-range")).toBe("bytes */10000");
  });

  test("an unknown blob is 404 BLOB_UNKNOWN with the digest", async () => {
    const res = await fetch(`${reg.baseUrl}/v2/mods/blobs/blobs/${sha256("missing")}`);
    expect(res.status).toBe(404);
    expect(await errors(res)).toEqual([
      { code: "BLOB_UNKNOWN", message: "blob unknown to registry", detail: { digest: sha256("missing") } },
    ]);
  });
});

describe("manifests and tags", () => {
  const config = enc('{"name":"base","version":"1.0.0"}');
  const layer = enc("composefs image bytes");

  test("PUT by tag, then GET/HEAD by tag and by digest return the same bytes", async () => {
    await pushBlob("mods/m", config);
    await pushBlob("mods/m", layer);
    const body = moduleManifest(config, [layer]);
    const put = await call("PUT", "/v2/mods/m/manifests/1.0.0", {
      body,
      headers: { "content-type": OCI_MANIFEST },
    });
    expect(put.status).toBe(201);
    const digest = sha256(body);
    expect(put.headers.get("docker-content-digest")).toBe(digest);
    expect(put.headers.get("location")).toBe(`/v2/mods/m/manifests/${digest}`);
    for (const ref of ["1.0.0", digest]) {
      const get = await fetch(`${reg.baseUrl}/v2/mods/m/manifests/${ref}`);
      expect(get.status).toBe(200);
      expect(get.headers.get("content-type")).toBe(OCI_MANIFEST);
      expect(get.headers.get("docker-content-digest")).toBe(digest);
      expect(await get.text()).toBe(body);
      const head = await fetch(`${reg.baseUrl}/v2/mods/m/manifests/${ref}`, { method: "HEAD" });
      expect(head.headers.get("content-length")).toBe(String(enc(body).length));
    }
    // Repositories are separate: the manifest is not visible under another name.
    expect((await fetch(`${reg.baseUrl}/v2/mods/other/manifests/${digest}`)).status).toBe(404);
  });

  test("PUT by digest must match the body", async () => {
    const body = moduleManifest(config, []);
    const ok = await call("PUT", `/v2/mods/m/manifests/${sha256(body)}`, {
      body,
      headers: { "content-type": OCI_MANIFEST },
    });
    expect(ok.status).toBe(201);
    const bad = await call("PUT", `/v2/mods/m/manifests/${sha256("other")}`, {
      body,
      headers: { "content-type": OCI_MANIFEST },
    });
    expect(bad.status).toBe(400);
    expect((await errors(bad))[0]?.code).toBe("DIGEST_INVALID");
  });

  test("a manifest naming unknown blobs: 400 with one MANIFEST_BLOB_UNKNOWN per blob, nothing stored", async () => {
    const ghost1 = enc("never uploaded 1");
    const ghost2 = enc("never uploaded 2");
    const body = moduleManifest(config, [layer, ghost1, ghost2]);
    const res = await call("PUT", "/v2/mods/m/manifests/ghost", {
      body,
      headers: { "content-type": OCI_MANIFEST },
    });
    expect(res.status).toBe(400);
    expect((await errors(res)).map((e) => [e.code, e.detail?.digest])).toEqual([
      ["MANIFEST_BLOB_UNKNOWN", sha256(ghost1)],
      ["MANIFEST_BLOB_UNKNOWN", sha256(ghost2)],
    ]);
    expect((await fetch(`${reg.baseUrl}/v2/mods/m/manifests/ghost`)).status).toBe(404);
  });

  test("a descriptor size that differs from the blob is MANIFEST_INVALID", async () => {
    const body = JSON.parse(moduleManifest(config, [layer])) as { layers: { size: number }[] };
    const l0 = body.layers[0];
    if (l0) l0.size += 1;
    const res = await call("PUT", "/v2/mods/m/manifests/badsize", {
      body: JSON.stringify(body),
      headers: { "content-type": OCI_MANIFEST },
    });
    expect((await errors(res)).map((e) => e.code)).toEqual(["MANIFEST_INVALID"]);
  });

  test.each([
    ["not JSON", "{nope", OCI_MANIFEST],
    ["schemaVersion 1", '{"schemaVersion":1}', OCI_MANIFEST],
    ["unknown media type", '{"schemaVersion":2,"mediaType":"text/plain"}', "text/plain"],
  ])("%s is 400 MANIFEST_INVALID", async (_what, body, ct) => {
    const res = await call("PUT", "/v2/mods/m/manifests/bad", { body, headers: { "content-type": ct } });
    expect(res.status).toBe(400);
    expect((await errors(res)).map((e) => e.code)).toEqual(["MANIFEST_INVALID"]);
  });

  test("a manifest over 4 MiB is 413 SIZE_INVALID, by Content-Length or by streamed size", async () => {
    const big = `{"schemaVersion":2,"pad":"${"x".repeat(4 * 1024 * 1024)}"}`;
    const res = await call("PUT", "/v2/mods/m/manifests/big", {
      body: big,
      headers: { "content-type": OCI_MANIFEST },
    });
    expect(res.status).toBe(413);
    expect((await errors(res)).map((e) => e.code)).toEqual(["SIZE_INVALID"]);
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(enc(big));
        c.close();
      },
    });
    const chunked = await call("PUT", "/v2/mods/m/manifests/big", {
      body: stream,
      headers: { "content-type": OCI_MANIFEST },
    });
    expect(chunked.status).toBe(413);
  });

  test("an index must reference manifests of the same repository", async () => {
    const child = moduleManifest(config, [layer]);
    const index = (d: string) =>
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_INDEX,
        manifests: [{ mediaType: OCI_MANIFEST, digest: d, size: 1 }],
      });
    const ok = await call("PUT", "/v2/mods/m/manifests/all", {
      body: index(sha256(child)),
      headers: { "content-type": OCI_INDEX },
    });
    expect(ok.status).toBe(201);
    const bad = await call("PUT", "/v2/mods/m/manifests/all2", {
      body: index(sha256("nope")),
      headers: { "content-type": OCI_INDEX },
    });
    expect((await errors(bad)).map((e) => e.code)).toEqual(["MANIFEST_BLOB_UNKNOWN"]);
  });

  test("tags/list is sorted, paginates with n/last and a Link header; unknown repos are NAME_UNKNOWN", async () => {
    await pushBlob("mods/t", config);
    const body = moduleManifest(config, []);
    for (const tag of ["b", "a", "c"]) {
      await call("PUT", `/v2/mods/t/manifests/${tag}`, { body, headers: { "content-type": OCI_MANIFEST } });
    }
    expect(await (await fetch(`${reg.baseUrl}/v2/mods/t/tags/list`)).json()).toEqual({
      name: "mods/t",
      tags: ["a", "b", "c"],
    });
    const page = await fetch(`${reg.baseUrl}/v2/mods/t/tags/list?n=2`);
    expect(await page.json()).toEqual({ name: "mods/t", tags: ["a", "b"] });
    expect(page.headers.get("link")).toBe('</v2/mods/t/tags/list?n=2&last=b>; rel="next"');
    expect(await (await fetch(`${reg.baseUrl}/v2/mods/t/tags/list?n=2&last=b`)).json()).toEqual({
      name: "mods/t",
      tags: ["c"],
    });
    const unknown = await fetch(`${reg.baseUrl}/v2/mods/none/tags/list`);
    expect(unknown.status).toBe(404);
    expect((await errors(unknown)).map((e) => e.code)).toEqual(["NAME_UNKNOWN"]);
  });

  test("DELETE by digest removes the manifest and its tags; by tag only the tag; needs auth", async () => {
    await pushBlob("mods/d", config);
    const body = moduleManifest(config, [], { annotations: { n: "d" } });
    const digest = sha256(body);
    for (const tag of ["x", "y"]) {
      await call("PUT", `/v2/mods/d/manifests/${tag}`, { body, headers: { "content-type": OCI_MANIFEST } });
    }
    const anon = await fetch(`${reg.baseUrl}/v2/mods/d/manifests/${digest}`, { method: "DELETE" });
    expect(anon.status).toBe(401);
    expect((await call("DELETE", "/v2/mods/d/manifests/x")).status).toBe(202);
    expect(await (await fetch(`${reg.baseUrl}/v2/mods/d/tags/list`)).json()).toEqual({
      name: "mods/d",
      tags: ["y"],
    });
    expect((await call("DELETE", `/v2/mods/d/manifests/${digest}`)).status).toBe(202);
    expect((await fetch(`${reg.baseUrl}/v2/mods/d/manifests/${digest}`)).status).toBe(404);
    expect((await fetch(`${reg.baseUrl}/v2/mods/d/manifests/y`)).status).toBe(404);
    expect(await (await fetch(`${reg.baseUrl}/v2/mods/d/tags/list`)).json()).toEqual({
      name: "mods/d",
      tags: [],
    });
    const again = await call("DELETE", `/v2/mods/d/manifests/${digest}`);
    expect(again.status).toBe(404);
    expect((await errors(again)).map((e) => e.code)).toEqual(["MANIFEST_UNKNOWN"]);
  });
});

describe("bad input never yields a 5xx", () => {
  const junk = [
    "%00",
    "..",
    "../../etc/passwd",
    "a".repeat(2000),
    "sha256:",
    ":",
    "uploads",
    "blobs",
    "🙂",
    "%2e%2e",
  ];
  test("random paths and methods answer 4xx", async () => {
    const statuses = new Set<number>();
    for (const a of junk) {
      for (const b of junk) {
        for (const [method, path] of [
          ["GET", `/v2/${a}/blobs/${b}`],
          ["HEAD", `/v2/${a}/manifests/${b}`],
          ["PATCH", `/v2/${a}/blobs/uploads/${b}`],
          ["PUT", `/v2/mods/x/manifests/${b}`],
          ["GET", `/v2/${a}/${b}/tags/list`],
        ] as const) {
          const res = await call(method, path, {
            body: method === "PATCH" || method === "PUT" ? "{}" : undefined,
          });
          statuses.add(res.status);
          await res.arrayBuffer();
        }
      }
    }
    expect([...statuses].filter((s) => s >= 500 || s < 400)).toEqual([]);
  });
});

describe("referrers (v1.1)", () => {
  test("a manifest with a subject is listed under it, filterable by artifactType, until deleted", async () => {
    const config = enc('{"name":"r"}');
    await pushBlob("mods/r", config);
    const subjectBody = moduleManifest(config, []);
    const subject = sha256(subjectBody);
    await call("PUT", "/v2/mods/r/manifests/v1", {
      body: subjectBody,
      headers: { "content-type": OCI_MANIFEST },
    });
    const empty = enc("{}");
    await pushBlob("mods/r", empty);
    const sigBody = JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      artifactType: "application/vnd.example.signature",
      config: { mediaType: "application/vnd.oci.empty.v1+json", digest: sha256(empty), size: 2 },
      layers: [],
      subject: { mediaType: OCI_MANIFEST, digest: subject, size: enc(subjectBody).length },
      annotations: { who: "ci" },
    });
    const put = await call("PUT", `/v2/mods/r/manifests/${sha256(sigBody)}`, {
      body: sigBody,
      headers: { "content-type": OCI_MANIFEST },
    });
    expect(put.status).toBe(201);
    expect(put.headers.get("oci-subject")).toBe(subject);

    const want = {
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: [
        {
          mediaType: OCI_MANIFEST,
          digest: sha256(sigBody),
          size: enc(sigBody).length,
          artifactType: "application/vnd.example.signature",
          annotations: { who: "ci" },
        },
      ],
    };
    const list = await fetch(`${reg.baseUrl}/v2/mods/r/referrers/${subject}`);
    expect(list.headers.get("content-type")).toBe(OCI_INDEX);
    expect(await list.json()).toEqual(want);
    const filtered = await fetch(
      `${reg.baseUrl}/v2/mods/r/referrers/${subject}?artifactType=application/x-other`,
    );
    expect(filtered.headers.get("oci-filters-applied")).toBe("artifactType");
    expect(await filtered.json()).toEqual({ ...want, manifests: [] });
    expect(await (await fetch(`${reg.baseUrl}/v2/mods/r/referrers/${sha256("none")}`)).json()).toEqual({
      ...want,
      manifests: [],
    });
    expect((await fetch(`${reg.baseUrl}/v2/mods/r/referrers/sha256:zz`)).status).toBe(400);

    expect((await call("DELETE", `/v2/mods/r/manifests/${sha256(sigBody)}`)).status).toBe(202);
    expect(await (await fetch(`${reg.baseUrl}/v2/mods/r/referrers/${subject}`)).json()).toEqual({
      ...want,
      manifests: [],
    });
  });
});
