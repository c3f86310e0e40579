import { afterAll, beforeAll, expect, test } from "bun:test";
import { stat } from "node:fs/promises";
import { join } from "node:path";
import { fetchBlobToFile } from "@powernode/oci";
import { startTestRegistry, TEST_TOKEN, type TestRegistry, tempDir } from "./test-harness.ts";

// Module blob images can be hundreds of MiB: uploads and downloads must stream, not buffer.
const MiB = 1024 * 1024;
const TOTAL = 200 * MiB;

let reg: TestRegistry;
let work: AsyncDisposable & { path: string };
beforeAll(async () => {
  reg = await startTestRegistry();
  work = await tempDir();
});
afterAll(async () => {
  await reg[Symbol.asyncDispose]();
  await work[Symbol.asyncDispose]();
});

/** A 200 MiB body produced on demand from one reused 1 MiB chunk (distinct per MiB via its first byte). */
function generated(): { stream: () => ReadableStream<Uint8Array>; digest: string } {
  const chunk = new Uint8Array(MiB).map((_, i) => i % 253);
  const hasher = new Bun.CryptoHasher("sha256");
  for (let i = 0; i < TOTAL / MiB; i++) {
    chunk[0] = i % 256;
    hasher.update(chunk);
  }
  const stream = () => {
    let i = 0;
    return new ReadableStream<Uint8Array>({
      pull(c) {
        if (i === TOTAL / MiB) return c.close();
        const out = chunk.slice();
        out[0] = i % 256;
        i++;
        c.enqueue(out);
      },
    });
  };
  return { stream, digest: `sha256:${hasher.digest("hex")}` };
}

test("a 200 MiB blob streams in through one PATCH (as skopeo sends it) and out to a file, memory bounded", async () => {
  const { stream, digest } = generated();
  const auth = { authorization: `Bearer ${TEST_TOKEN}` };
  // Collect first and last: other suites in this process leave garbage, and each streamed chunk is a copy.
  Bun.gc(true);
  const rss0 = process.memoryUsage().rss;

  const post = await fetch(`${reg.baseUrl}/v2/modules/big/blobs/uploads/`, { method: "POST", headers: auth });
  const loc = post.headers.get("location") ?? "";
  const patch = await fetch(`${reg.baseUrl}${loc}`, { method: "PATCH", body: stream(), headers: auth });
  expect(patch.status).toBe(202);
  expect(patch.headers.get("range")).toBe(`0-${TOTAL - 1}`);
  const put = await fetch(`${reg.baseUrl}${loc}?digest=${digest}`, { method: "PUT", headers: auth });
  expect(put.status).toBe(201);

  const dest = join(work.path, "big.erofs");
  expect(await fetchBlobToFile(reg.baseUrl, "modules/big", digest, dest)).toEqual({
    digest,
    size: TOTAL,
    resumedFrom: 0,
  });
  expect((await stat(dest)).size).toBe(TOTAL);
  // Client and registry share this process; buffering the blob anywhere would add >= 200 MiB.
  Bun.gc(true);
  expect(process.memoryUsage().rss - rss0).toBeLessThan(128 * MiB);
}, 30_000);
