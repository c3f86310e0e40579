import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
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
const errorCodes = async (res: Response) =>
  ((await res.json()) as { errors: { code: string }[] }).errors.map((e) => e.code);
const bytes = (n: number, seed = 1) => new Uint8Array(n).map((_, i) => (i * 7 + seed) % 256);

async function startSession(repo = "mods/base"): Promise<string> {
  const res = await call("POST", `/v2/${repo}/blobs/uploads/`);
  expect(res.status).toBe(202);
  expect(res.headers.get("range")).toBe("0-0");
  expect(res.headers.get("content-length")).toBe("0");
  const location = res.headers.get("location");
  expect(location).toMatch(new RegExp(`^/v2/${repo}/blobs/uploads/[0-9a-f-]{36}$`));
  expect(res.headers.get("docker-upload-uuid")).toBe(location?.split("/").pop() ?? "");
  return location ?? "";
}

describe("blob uploads", () => {
  test("resumable: two PATCH chunks, GET shows the offset, a third chunk, PUT commits", async () => {
    const data = bytes(300_000);
    const loc = await startSession();
    const p1 = await call("PATCH", loc, {
      body: data.subarray(0, 100_000),
      headers: { "content-range": "0-99999" },
    });
    expect(p1.status).toBe(202);
    expect(p1.headers.get("range")).toBe("0-99999");
    const p2 = await call("PATCH", loc, {
      body: data.subarray(100_000, 200_000),
      headers: { "content-range": "100000-199999" },
    });
    expect(p2.headers.get("range")).toBe("0-199999");

    // The client "lost" its state: the status tells where to continue.
    const st = await call("GET", loc);
    expect(st.status).toBe(204);
    expect(st.headers.get("range")).toBe("0-199999");
    expect(st.headers.get("location")).toBe(loc);

    // A chunk that skips ahead or repeats is out of order: 416 with the current range, nothing changes.
    const bad = await call("PATCH", loc, {
      body: data.subarray(250_000),
      headers: { "content-range": "250000-299999" },
    });
    expect(bad.status).toBe(416);
    expect(bad.headers.get("range")).toBe("0-199999");
    // The 416 carries the spec's JSON error, with a Content-Length that matches it (keep-alive safe).
    const badBody = await bad.text();
    expect(bad.headers.get("content-length")).toBe(String(badBody.length));
    expect(JSON.parse(badBody).errors[0].code).toBe("BLOB_UPLOAD_INVALID");
    const again = await call("PATCH", loc, {
      body: data.subarray(0, 10),
      headers: { "content-range": "0-9" },
    });
    expect(again.status).toBe(416);

    const p3 = await call("PATCH", loc, {
      body: data.subarray(200_000),
      headers: { "content-range": "200000-299999" },
    });
    expect(p3.headers.get("range")).toBe("0-299999");
    const digest = sha256(data);
    const put = await call("PUT", `${loc}?digest=${digest}`);
    expect(put.status).toBe(201);
    expect(put.headers.get("docker-content-digest")).toBe(digest);
    expect(put.headers.get("location")).toBe(`/v2/mods/base/blobs/${digest}`);

    const got = await call("GET", `/v2/mods/base/blobs/${digest}`);
    expect(new Uint8Array(await got.arrayBuffer())).toEqual(data);
    // The session is gone once committed.
    expect((await call("GET", loc)).status).toBe(404);
  });

  test("PATCH without Content-Range streams in order; PUT may carry the last chunk", async () => {
    const data = bytes(70_000, 3);
    const loc = await startSession();
    expect((await call("PATCH", loc, { body: data.subarray(0, 40_000) })).headers.get("range")).toBe(
      "0-39999",
    );
    const digest = sha256(data);
    const put = await call("PUT", `${loc}?digest=${digest}`, {
      body: data.subarray(40_000),
      headers: { "content-range": "40000-69999" },
    });
    expect(put.status).toBe(201);
    expect((await call("HEAD", `/v2/mods/base/blobs/${digest}`)).headers.get("content-length")).toBe("70000");
  });

  test("a chunk longer than its Content-Range is refused and rolled back", async () => {
    const loc = await startSession();
    const res = await call("PATCH", loc, { body: bytes(100), headers: { "content-range": "0-49" } });
    expect(res.status).toBe(416);
    expect(res.headers.get("range")).toBe("0-0");
    expect((await call("PATCH", loc, { body: bytes(50), headers: { "content-range": "0-49" } })).status).toBe(
      202,
    );
    expect(
      (await call("PATCH", loc, { body: bytes(5), headers: { "content-range": "garbage" } })).status,
    ).toBe(416);
  });

  test("PUT with the wrong digest: 400 DIGEST_INVALID, nothing stored, session ended", async () => {
    const data = bytes(5000, 9);
    const loc = await startSession();
    await call("PATCH", loc, { body: data });
    const wrong = sha256("something else");
    const res = await call("PUT", `${loc}?digest=${wrong}`);
    expect(res.status).toBe(400);
    const body = (await res.json()) as {
      errors: { code: string; detail: Record<string, unknown> }[];
    };
    expect(body.errors[0]?.code).toBe("DIGEST_INVALID");
    expect(body.errors[0]?.detail).toEqual({ expected: wrong, actual: sha256(data), size: 5000 });
    expect((await call("HEAD", `/v2/mods/base/blobs/${wrong}`)).status).toBe(404);
    expect((await call("HEAD", `/v2/mods/base/blobs/${sha256(data)}`)).status).toBe(404);
    expect((await call("GET", loc)).status).toBe(404);
  });

  test("PUT without or with a bad digest is refused", async () => {
    const loc = await startSession();
    expect(await errorCodes(await call("PUT", loc))).toEqual(["DIGEST_INVALID"]);
    expect(await errorCodes(await call("PUT", `${loc}?digest=sha512:${"a".repeat(128)}`))).toEqual([
      "DIGEST_INVALID",
    ]);
  });

  test("monolithic POST ?digest= stores on a match and refuses a mismatch", async () => {
    const data = bytes(1234, 5);
    const ok = await call("POST", `/v2/mods/base/blobs/uploads/?digest=${sha256(data)}`, { body: data });
    expect(ok.status).toBe(201);
    expect(ok.headers.get("docker-content-digest")).toBe(sha256(data));
    const bad = await call("POST", `/v2/mods/base/blobs/uploads/?digest=${sha256("x")}`, { body: data });
    expect(bad.status).toBe(400);
    expect(await errorCodes(bad)).toEqual(["DIGEST_INVALID"]);
    // Failed writes leave no temp files behind.
    expect(await readdir(join(reg.dataDir, "tmp"))).toEqual([]);
  });

  test("mount= of a known blob answers 201; of an unknown blob falls back to a session", async () => {
    const data = bytes(100, 11);
    await call("POST", `/v2/mods/a/blobs/uploads/?digest=${sha256(data)}`, { body: data });
    const m = await call("POST", `/v2/mods/b/blobs/uploads/?mount=${sha256(data)}&from=mods/a`);
    expect(m.status).toBe(201);
    expect(m.headers.get("location")).toBe(`/v2/mods/b/blobs/${sha256(data)}`);
    const fallback = await call("POST", `/v2/mods/b/blobs/uploads/?mount=${sha256("nope")}&from=mods/a`);
    expect(fallback.status).toBe(202);
  });

  test("DELETE cancels a session; unknown sessions and other repos' sessions are 404", async () => {
    const loc = await startSession();
    await call("PATCH", loc, { body: bytes(10) });
    expect((await call("GET", loc.replace("mods/base", "mods/other"))).status).toBe(404);
    expect((await call("DELETE", loc)).status).toBe(204);
    const gone = await call("GET", loc);
    expect(gone.status).toBe(404);
    expect(await errorCodes(gone)).toEqual(["BLOB_UPLOAD_UNKNOWN"]);
    expect((await call("PATCH", "/v2/mods/base/blobs/uploads/not-a-uuid", { body: bytes(1) })).status).toBe(
      404,
    );
    expect((await call("DELETE", loc)).status).toBe(404);
  });

  test("writes without the token: 401 with a Bearer challenge and UNAUTHORIZED", async () => {
    for (const [method, path] of [
      ["POST", "/v2/mods/base/blobs/uploads/"],
      ["PATCH", "/v2/mods/base/blobs/uploads/00000000-0000-0000-0000-000000000000"],
      ["PUT", "/v2/mods/base/manifests/v1"],
      ["DELETE", `/v2/mods/base/manifests/${sha256("x")}`],
    ] as const) {
      const res = await fetch(new URL(path, reg.baseUrl), {
        method,
        body: method === "DELETE" ? undefined : "x",
        headers: { authorization: "Bearer wrong" },
      });
      expect(res.status).toBe(401);
      expect(res.headers.get("www-authenticate")).toStartWith('Bearer realm="');
      expect(await errorCodes(res)).toEqual(["UNAUTHORIZED"]);
    }
  });
});
