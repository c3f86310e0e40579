import { expect, test } from "bun:test";
import { createOciHandler } from "./handler.ts";
import { createRecordingLogger, tempDir } from "./test-harness.ts";

test("the handler works without Elysia and ignores paths outside /v2", async () => {
  await using dir = await tempDir();
  const handle = createOciHandler({ dataDir: dir.path, authorizePush: () => true });
  expect(await handle(new Request("http://hub/healthz"))).toBeUndefined();
  expect(await handle(new Request("http://hub/v2x"))).toBeUndefined();
  const ping = await handle(new Request("http://hub/v2/", { headers: { authorization: "Bearer t" } }));
  expect(ping?.status).toBe(200);
  const post = await handle(new Request("http://hub/v2/a/blobs/uploads/", { method: "POST" }));
  expect(post?.status).toBe(202);
});

test("an authorizePush that throws denies the write and logs why; a custom realm is announced", async () => {
  await using dir = await tempDir();
  const log = createRecordingLogger();
  const handle = createOciHandler({
    dataDir: dir.path,
    realm: "https://hub.example/v2/token",
    log,
    authorizePush: () => {
      throw new Error("token store down");
    },
  });
  const res = await handle(new Request("http://hub/v2/a/blobs/uploads/", { method: "POST" }));
  expect(res?.status).toBe(401);
  expect(res?.headers.get("www-authenticate")).toBe(
    'Bearer realm="https://hub.example/v2/token",service="powernode"',
  );
  expect(log.records).toEqual([
    { level: "error", msg: "oci: authorizePush threw; denying" },
    { level: "warn", msg: "oci: write denied" },
  ]);
});
