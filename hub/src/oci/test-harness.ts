/**
 * Test helpers for the registry: a real Elysia listener on port 0 over a temp data dir, and a writer
 * for OCI image layout directories (the `oci:` transport of skopeo).
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Elysia } from "elysia";
import { basicPassword, type OciLogger } from "./handler.ts";
import { createOciRegistry, OCI_MAX_REQUEST_BODY_BYTES } from "./registry.ts";

/** The admin token the test registry accepts for writes. */
export const TEST_TOKEN = "test-admin-token";

/** A running registry; dispose it to stop the listener and remove its data. */
export interface TestRegistry extends AsyncDisposable {
  baseUrl: string;
  /** `127.0.0.1:<port>`, as skopeo wants it. */
  host: string;
  dataDir: string;
  /** Every request the registry saw (method, path, Range header), for asserting client behaviour. */
  requests: { method: string; path: string; range: string | null }[];
}

/**
 * Starts the registry on an Elysia listener on port 0, accepting `Bearer TEST_TOKEN` for writes.
 * With `dataDir` (a restart over existing storage) the directory is left in place on dispose.
 */
export async function startTestRegistry(
  opts: { dataDir?: string; log?: OciLogger; repositories?: readonly string[] } = {},
): Promise<TestRegistry> {
  const dataDir = opts.dataDir ?? (await mkdtemp(join(tmpdir(), "pn-oci-")));
  const requests: TestRegistry["requests"] = [];
  const oci = createOciRegistry({
    dataDir,
    // As the hub: the token as a Bearer token or as the password of basic credentials.
    authorizePush: (r) => {
      const header = r.headers.get("authorization");
      return header === `Bearer ${TEST_TOKEN}` || basicPassword(header) === TEST_TOKEN;
    },
    log: opts.log,
    repositories: opts.repositories,
  });
  const app = new Elysia({ serve: { maxRequestBodySize: OCI_MAX_REQUEST_BODY_BYTES } })
    .onRequest(({ request }) => {
      requests.push({
        method: request.method,
        path: new URL(request.url).pathname,
        range: request.headers.get("range"),
      });
    })
    .use(oci.plugin)
    .get("/healthz", () => "ok")
    .post("/echo", ({ body }) => body)
    .listen({ port: 0, hostname: "127.0.0.1" });
  const port = app.server?.port;
  if (port === undefined) throw new Error("registry listener has no port");
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    dataDir,
    requests,
    async [Symbol.asyncDispose]() {
      await app.stop(true);
      if (!opts.dataDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** A temp directory removed on dispose. */
export async function tempDir(prefix = "pn-oci-t-"): Promise<AsyncDisposable & { path: string }> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, [Symbol.asyncDispose]: () => rm(path, { recursive: true, force: true }) };
}

/** sha256 digest of bytes, `sha256:<hex>`. */
export function sha256(bytes: Uint8Array | string): string {
  return `sha256:${new Bun.CryptoHasher("sha256").update(bytes).digest("hex")}`;
}

/** A blob to place in an OCI layout. */
export interface LayoutBlob {
  mediaType: string;
  bytes: Uint8Array;
}

/**
 * Writes an OCI image layout (image-spec `image-layout.md`) holding one manifest tagged `ref`,
 * and returns the manifest digest.
 */
export async function writeOciLayout(
  dir: string,
  ref: string,
  image: { config: LayoutBlob; layers: LayoutBlob[]; artifactType?: string },
): Promise<string> {
  await mkdir(join(dir, "blobs", "sha256"), { recursive: true });
  const put = async (bytes: Uint8Array) => {
    const digest = sha256(bytes);
    await writeFile(join(dir, "blobs", "sha256", digest.slice(7)), bytes);
    return digest;
  };
  const desc = async (b: LayoutBlob) => ({
    mediaType: b.mediaType,
    digest: await put(b.bytes),
    size: b.bytes.byteLength,
  });
  const manifest = {
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    ...(image.artifactType ? { artifactType: image.artifactType } : {}),
    config: await desc(image.config),
    layers: await Promise.all(image.layers.map(desc)),
  };
  const bytes = new TextEncoder().encode(JSON.stringify(manifest));
  const digest = await put(bytes);
  await writeFile(join(dir, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  await writeFile(
    join(dir, "index.json"),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        {
          mediaType: manifest.mediaType,
          digest,
          size: bytes.byteLength,
          annotations: { "org.opencontainers.image.ref.name": ref },
        },
      ],
    }),
  );
  return digest;
}

/** A logger keeping its records, for assertions. */
export function createRecordingLogger(): OciLogger & { records: { level: string; msg: string }[] } {
  const records: { level: string; msg: string }[] = [];
  const rec = (level: string) => (msg: string) => {
    records.push({ level, msg });
  };
  return { records, info: rec("info"), warn: rec("warn"), error: rec("error") };
}

/** Polls `probe` until it returns true; throws naming `what` after `timeoutMs`. */
export async function waitFor(
  what: string,
  probe: () => boolean | Promise<boolean>,
  timeoutMs = 5000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await Bun.sleep(10);
  }
}
