import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  fetchBlobToFile,
  fetchManifest,
  MODULE_ARTIFACT_TYPE,
  MODULE_COMPOSEFS_MEDIA_TYPE,
  MODULE_CONFIG_MEDIA_TYPE,
  MODULE_EROFS_BLOB_MEDIA_TYPE,
  MODULE_VERITY_HASHTREE_MEDIA_TYPE,
  OciClientError,
  pushArtifact,
  pushBlob,
} from "@powernode/oci";
import { sha256, startTestRegistry, TEST_TOKEN, type TestRegistry, tempDir } from "./test-harness.ts";

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

const enc = (s: string) => new TextEncoder().encode(s);
const pattern = (n: number, seed: number) => new Uint8Array(n).map((_, i) => (i * 13 + seed) % 256);
/** Flips bits of one byte (a corrupted byte on disk or on the wire). */
const flip = (buf: Uint8Array, i: number, mask: number) => {
  buf[i] = (buf[i] ?? 0) ^ mask;
};
const blobPath = (digest: string) => join(reg.dataDir, "blobs", "sha256", digest.slice(7));

/**
 * A fetch whose response bodies break after `after` bytes, like a dropped connection
 * (deterministic, unlike aborting on a timer).
 */
function droppingFetch(after: number): typeof fetch {
  const f = async (input: string | URL | Request, init?: RequestInit) => {
    const res = await fetch(input, init);
    if (!res.body) return res;
    const reader = res.body.getReader();
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      async pull(c) {
        if (sent >= after) {
          await reader.cancel();
          c.error(new Error("connection dropped (test)"));
          return;
        }
        const { done, value } = await reader.read();
        if (done) return c.close();
        const part = value.subarray(0, after - sent);
        sent += part.byteLength;
        c.enqueue(part);
      },
    });
    return new Response(body, { status: res.status, headers: res.headers });
  };
  return f as typeof fetch;
}

describe("pushArtifact and fetchManifest", () => {
  test("pushes a module (config + layers from bytes and files) and reads it back verified", async () => {
    const cfsPath = join(work.path, "base.cfs");
    const cfs = pattern(30_000, 1);
    await writeFile(cfsPath, cfs);
    const erofs = pattern(250_000, 2);
    const verity = pattern(4096, 3);
    const config = enc(JSON.stringify({ name: "base", version: "1.0.0" }));
    const input = {
      artifactType: MODULE_ARTIFACT_TYPE,
      config: { mediaType: MODULE_CONFIG_MEDIA_TYPE, bytes: config },
      layers: [
        { mediaType: MODULE_COMPOSEFS_MEDIA_TYPE, path: cfsPath },
        {
          mediaType: MODULE_EROFS_BLOB_MEDIA_TYPE,
          bytes: erofs,
          annotations: { "org.opencontainers.image.title": "b" },
        },
        { mediaType: MODULE_VERITY_HASHTREE_MEDIA_TYPE, bytes: verity },
      ],
      annotations: { "com.powernode.module": "base" },
    };
    // Small chunks force the chunked PATCH path for the EROFS blob.
    const digest = await pushArtifact(reg.baseUrl, "modules/base", "1.0.0", input, {
      token: TEST_TOKEN,
      chunkBytes: 64 * 1024,
    });
    expect(reg.requests.filter((r) => r.method === "PATCH").length).toBe(4);

    const m = await fetchManifest(reg.baseUrl, "modules/base", "1.0.0");
    expect(m.digest).toBe(digest);
    expect(m.json).toEqual({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      artifactType: MODULE_ARTIFACT_TYPE,
      config: { mediaType: MODULE_CONFIG_MEDIA_TYPE, digest: sha256(config), size: config.length },
      layers: [
        { mediaType: MODULE_COMPOSEFS_MEDIA_TYPE, digest: sha256(cfs), size: cfs.length },
        {
          mediaType: MODULE_EROFS_BLOB_MEDIA_TYPE,
          digest: sha256(erofs),
          size: erofs.length,
          annotations: { "org.opencontainers.image.title": "b" },
        },
        { mediaType: MODULE_VERITY_HASHTREE_MEDIA_TYPE, digest: sha256(verity), size: verity.length },
      ],
      annotations: { "com.powernode.module": "base" },
    });
    expect((await fetchManifest(reg.baseUrl, "modules/base", digest)).digest).toBe(digest);

    // Pushing again uploads nothing: every blob answers HEAD 200.
    const posts = reg.requests.filter((r) => r.method === "POST").length;
    expect(await pushArtifact(reg.baseUrl, "modules/base", "latest", input, { token: TEST_TOKEN })).toBe(
      digest,
    );
    expect(reg.requests.filter((r) => r.method === "POST").length).toBe(posts);
  });

  test.each([
    ["lost before reaching the registry", false],
    ["lost after the registry stored the chunk", true],
  ])(
    "a chunk whose request is %s: the push resumes from the offset the registry reports",
    async (_what, delivered) => {
      let patches = 0;
      // Breaks the second PATCH once: either never sent, or sent and its response lost.
      const flaky = (async (input: string | URL | Request, init?: RequestInit) => {
        if (init?.method === "PATCH" && ++patches === 2) {
          if (delivered) await fetch(input, init);
          throw new Error("network down (test)");
        }
        return fetch(input, init);
      }) as typeof fetch;
      const data = pattern(200_000, delivered ? 11 : 12);
      const before = reg.requests.length;
      await pushBlob(
        reg.baseUrl,
        "modules/flaky",
        { mediaType: MODULE_EROFS_BLOB_MEDIA_TYPE, bytes: data },
        { token: TEST_TOKEN, chunkBytes: 64 * 1024, fetch: flaky },
      );
      const seen = reg.requests.slice(before).map((r) => r.method);
      // 4 chunks; the broken one is followed by a status GET and, when it was lost, sent again.
      expect(seen).toEqual(
        delivered
          ? ["HEAD", "POST", "PATCH", "PATCH", "GET", "PATCH", "PATCH", "PUT"]
          : ["HEAD", "POST", "PATCH", "GET", "PATCH", "PATCH", "PATCH", "PUT"],
      );
      const got = await fetch(`${reg.baseUrl}/v2/modules/flaky/blobs/${sha256(data)}`);
      expect(new Uint8Array(await got.arrayBuffer())).toEqual(data);
    },
  );

  test("an artifact without config gets the empty descriptor", async () => {
    const digest = await pushArtifact(
      reg.baseUrl,
      "modules/empty",
      "v1",
      {
        artifactType: MODULE_ARTIFACT_TYPE,
        layers: [{ mediaType: MODULE_COMPOSEFS_MEDIA_TYPE, bytes: enc("x") }],
      },
      { token: TEST_TOKEN },
    );
    const m = await fetchManifest(reg.baseUrl, "modules/empty", digest);
    expect((m.json as { config: unknown }).config).toEqual({
      mediaType: "application/vnd.oci.empty.v1+json",
      digest: sha256("{}"),
      size: 2,
    });
  });

  test("without the token the push fails with the registry's 401 UNAUTHORIZED", async () => {
    const err = await pushArtifact(reg.baseUrl, "modules/x", "v1", {
      layers: [{ mediaType: MODULE_COMPOSEFS_MEDIA_TYPE, bytes: enc("no token") }],
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OciClientError);
    expect((err as OciClientError).details).toEqual({ status: 401, code: "UNAUTHORIZED" });
  });

  test("a manifest whose stored bytes changed is rejected with both digests", async () => {
    const digest = await pushArtifact(
      reg.baseUrl,
      "modules/tamper",
      "v1",
      { layers: [{ mediaType: MODULE_COMPOSEFS_MEDIA_TYPE, bytes: enc("t") }] },
      { token: TEST_TOKEN },
    );
    const bytes = await readFile(blobPath(digest));
    flip(bytes, bytes.length - 2, 1);
    await writeFile(blobPath(digest), bytes);
    const err = (await fetchManifest(reg.baseUrl, "modules/tamper", digest).catch(
      (e: unknown) => e,
    )) as OciClientError;
    expect(err.kind).toBe("digest_mismatch");
    expect(err.message).toContain(`expected ${digest}`);
    expect(err.details.actual).toBe(sha256(bytes));
  });
});

describe("fetchBlobToFile", () => {
  const data = pattern(3 * 1024 * 1024 + 17, 7);
  const digest = sha256(data);
  beforeAll(async () => {
    const res = await fetch(`${reg.baseUrl}/v2/modules/big/blobs/uploads/?digest=${digest}`, {
      method: "POST",
      body: data,
      headers: { authorization: `Bearer ${TEST_TOKEN}` },
    });
    expect(res.status).toBe(201);
  });

  test("downloads and verifies a whole blob", async () => {
    const dest = join(work.path, "whole");
    expect(await fetchBlobToFile(reg.baseUrl, "modules/big", digest, dest)).toEqual({
      digest,
      size: data.length,
      resumedFrom: 0,
    });
    expect(new Uint8Array(await readFile(dest))).toEqual(data);
  });

  test("an interrupted download resumes with Range from where it stopped", async () => {
    const dest = join(work.path, "resumed");
    const cut = 1_000_000;
    const err = await fetchBlobToFile(reg.baseUrl, "modules/big", digest, dest, {
      fetch: droppingFetch(cut),
    }).catch((e: unknown) => e);
    expect(String(err)).toContain("connection dropped (test)");
    expect((await stat(`${dest}.partial`)).size).toBe(cut);
    expect(await Bun.file(dest).exists()).toBe(false);

    const before = reg.requests.length;
    const r = await fetchBlobToFile(reg.baseUrl, "modules/big", digest, dest);
    expect(r).toEqual({ digest, size: data.length, resumedFrom: cut });
    expect(reg.requests.slice(before).map((q) => q.range)).toEqual([`bytes=${cut}-`]);
    expect(new Uint8Array(await readFile(dest))).toEqual(data);
    expect(await Bun.file(`${dest}.partial`).exists()).toBe(false);
  });

  test("a corrupted byte in the partial file is caught after resuming, naming both digests", async () => {
    const dest = join(work.path, "corrupt-partial");
    await fetchBlobToFile(reg.baseUrl, "modules/big", digest, dest, { fetch: droppingFetch(500_000) }).catch(
      () => {},
    );
    const partial = await readFile(`${dest}.partial`);
    flip(partial, 1234, 0xff);
    await writeFile(`${dest}.partial`, partial);
    const bad = new Uint8Array(data);
    flip(bad, 1234, 0xff);
    const err = (await fetchBlobToFile(reg.baseUrl, "modules/big", digest, dest).catch(
      (e: unknown) => e,
    )) as OciClientError;
    expect(err.kind).toBe("digest_mismatch");
    expect(err.message).toBe(`blob modules/big@${digest}: expected ${digest}, got ${sha256(bad)}`);
    // Nothing unverified is left behind: the next attempt starts from zero and succeeds.
    expect(await Bun.file(dest).exists()).toBe(false);
    expect(await Bun.file(`${dest}.partial`).exists()).toBe(false);
    expect((await fetchBlobToFile(reg.baseUrl, "modules/big", digest, dest)).resumedFrom).toBe(0);
  });

  test("a blob corrupted on the registry is refused", async () => {
    const small = pattern(10_000, 9);
    const d = sha256(small);
    await fetch(`${reg.baseUrl}/v2/modules/c/blobs/uploads/?digest=${d}`, {
      method: "POST",
      body: small,
      headers: { authorization: `Bearer ${TEST_TOKEN}` },
    });
    const tampered = new Uint8Array(small);
    flip(tampered, 5000, 1);
    await writeFile(blobPath(d), tampered);
    const dest = join(work.path, "tampered");
    const err = (await fetchBlobToFile(reg.baseUrl, "modules/c", d, dest).catch(
      (e: unknown) => e,
    )) as OciClientError;
    expect(err.details).toEqual({ expected: d, actual: sha256(tampered) });
    expect(await Bun.file(dest).exists()).toBe(false);
  });

  test("an unknown blob is an http error carrying BLOB_UNKNOWN", async () => {
    const err = (await fetchBlobToFile(
      reg.baseUrl,
      "modules/big",
      sha256("none"),
      join(work.path, "none"),
    ).catch((e: unknown) => e)) as OciClientError;
    expect(err.details).toEqual({ status: 404, code: "BLOB_UNKNOWN" });
  });
});
