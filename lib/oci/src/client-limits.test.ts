import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fetchBlobToFile, OciClientError } from "./client.ts";

// A hostile registry: every blob is `head` followed by as many zero bytes as the client will read.
const MiB = 1024 * 1024;
const head = new Uint8Array(10_000).map((_, i) => i % 251);
const digest = `sha256:${new Bun.CryptoHasher("sha256").update(head).digest("hex")}`;
let made = 0;
let server: ReturnType<typeof Bun.serve>;
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "pn-oci-limits-"));
  server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch() {
      made = 0;
      const zeros = new Uint8Array(64 * 1024);
      return new Response(
        new ReadableStream<Uint8Array>({
          pull(c) {
            const next = made === 0 ? head : zeros;
            made += next.byteLength;
            if (made > 512 * MiB) return c.close();
            c.enqueue(next);
          },
        }),
      );
    },
  });
});
afterAll(async () => {
  await server.stop(true);
  rmSync(dir, { recursive: true, force: true });
});

test("with the descriptor size, nothing past it is written and the rest of the body is not read", async () => {
  let most = 0;
  const err = await fetchBlobToFile(`http://127.0.0.1:${server.port}`, "m/x", digest, join(dir, "a"), {
    size: head.length,
    onProgress: (n) => {
      most = Math.max(most, n);
    },
  }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(OciClientError);
  expect((err as OciClientError).kind).toBe("invalid");
  expect(most).toBeLessThanOrEqual(head.length);
  expect(statSync(join(dir, "a.partial"), { throwIfNoEntry: false })).toBe(undefined);
  expect(made).toBeLessThan(64 * MiB);
});

test("a partial file longer than the descriptor is started over; a bad size is refused", async () => {
  writeFileSync(join(dir, "b.partial"), new Uint8Array(head.length + 1));
  const err = await fetchBlobToFile(`http://127.0.0.1:${server.port}`, "m/x", digest, join(dir, "b"), {
    size: head.length,
  }).catch((e: unknown) => e);
  // Started over from byte 0 (no Range), then refused at the size like any longer body.
  expect((err as OciClientError).message).toContain(`its descriptor says ${head.length}`);
  await expect(
    fetchBlobToFile(`http://127.0.0.1:${server.port}`, "m/x", digest, join(dir, "c"), { size: -1 }),
  ).rejects.toThrow("descriptor size -1 is not a byte count");
});
