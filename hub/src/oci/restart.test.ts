import { expect, test } from "bun:test";
import { readdir, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { purgeStale } from "./purge.ts";
import {
  createRecordingLogger,
  sha256,
  startTestRegistry,
  TEST_TOKEN,
  tempDir,
  waitFor,
} from "./test-harness.ts";

const AUTH = { authorization: `Bearer ${TEST_TOKEN}` };
const data = new Uint8Array(120_000).map((_, i) => (i * 17) % 256);

test("an upload session survives a hub restart: resume from the reported offset, commit re-hashes from disk", async () => {
  await using dir = await tempDir();
  let loc: string;
  {
    await using first = await startTestRegistry({ dataDir: dir.path });
    const post = await fetch(`${first.baseUrl}/v2/mods/r/blobs/uploads/`, { method: "POST", headers: AUTH });
    loc = post.headers.get("location") ?? "";
    const patch = await fetch(`${first.baseUrl}${loc}`, {
      method: "PATCH",
      body: data.subarray(0, 50_000),
      headers: { ...AUTH, "content-range": "0-49999" },
    });
    expect(patch.status).toBe(202);
  }
  await using second = await startTestRegistry({ dataDir: dir.path });
  const status = await fetch(`${second.baseUrl}${loc}`, { headers: AUTH });
  expect(status.status).toBe(204);
  expect(status.headers.get("range")).toBe("0-49999");
  await fetch(`${second.baseUrl}${loc}`, {
    method: "PATCH",
    body: data.subarray(50_000),
    headers: { ...AUTH, "content-range": "50000-119999" },
  });
  const put = await fetch(`${second.baseUrl}${loc}?digest=${sha256(data)}`, { method: "PUT", headers: AUTH });
  expect(put.status).toBe(201);
  const got = await fetch(`${second.baseUrl}/v2/mods/r/blobs/${sha256(data)}`);
  expect(new Uint8Array(await got.arrayBuffer())).toEqual(data);
});

test("racing PATCHes on one session are serialised: one lands, the other is out of order", async () => {
  await using reg = await startTestRegistry();
  const post = await fetch(`${reg.baseUrl}/v2/mods/race/blobs/uploads/`, { method: "POST", headers: AUTH });
  const loc = post.headers.get("location") ?? "";
  const chunk = (seed: number) =>
    fetch(`${reg.baseUrl}${loc}`, {
      method: "PATCH",
      body: new Uint8Array(100_000).fill(seed),
      headers: { ...AUTH, "content-range": "0-99999" },
    });
  const statuses = (await Promise.all([chunk(1), chunk(2)])).map((r) => r.status).sort();
  expect(statuses).toEqual([202, 416]);
  const st = await fetch(`${reg.baseUrl}${loc}`, { headers: AUTH });
  expect(st.headers.get("range")).toBe("0-99999");
});

test("purge removes idle upload sessions and stale temp files, and keeps live ones", async () => {
  await using reg = await startTestRegistry();
  const start = async () =>
    (await fetch(`${reg.baseUrl}/v2/mods/p/blobs/uploads/`, { method: "POST", headers: AUTH })).headers.get(
      "location",
    ) ?? "";
  const idle = await start();
  const live = await start();
  const old = new Date(Date.now() - 2 * 24 * 3600_000);
  await utimes(join(reg.dataDir, "uploads", idle.split("/").pop() ?? "", "data"), old, old);
  await writeFile(join(reg.dataDir, "tmp", "leftover"), "x");
  await utimes(join(reg.dataDir, "tmp", "leftover"), old, old);

  expect(await purgeStale(reg.dataDir)).toEqual({ uploads: 1, tmp: 1 });
  expect((await fetch(`${reg.baseUrl}${idle}`, { headers: AUTH })).status).toBe(404);
  expect((await fetch(`${reg.baseUrl}${live}`, { headers: AUTH })).status).toBe(204);
  expect(await readdir(join(reg.dataDir, "tmp"))).toEqual([]);
});

test("a client that drops mid-PATCH: the partial chunk is rolled back, logged as a warning, not an error", async () => {
  const log = createRecordingLogger();
  await using reg = await startTestRegistry({ log });
  const post = await fetch(`${reg.baseUrl}/v2/mods/drop/blobs/uploads/`, { method: "POST", headers: AUTH });
  const loc = post.headers.get("location") ?? "";
  await fetch(`${reg.baseUrl}${loc}`, { method: "PATCH", body: data.subarray(0, 1000), headers: AUTH });
  let sent = 0;
  const breaking = new ReadableStream<Uint8Array>({
    pull(c) {
      if (sent === 3) return c.error(new Error("client crashed (test)"));
      sent++;
      c.enqueue(new Uint8Array(64 * 1024).fill(sent));
    },
  });
  const res = await fetch(`${reg.baseUrl}${loc}`, { method: "PATCH", body: breaking, headers: AUTH }).catch(
    (e: unknown) => e,
  );
  expect(res).toBeInstanceOf(Error);
  await waitFor("the registry to notice the broken body", () =>
    log.records.some((r) => r.msg === "oci: request body interrupted"),
  );
  const st = await fetch(`${reg.baseUrl}${loc}`, { headers: AUTH });
  expect(st.headers.get("range")).toBe("0-999");
  expect(log.records.filter((r) => r.level === "error")).toEqual([]);
});
