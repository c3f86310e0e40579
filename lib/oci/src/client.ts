/**
 * A small OCI distribution client for powernode artifacts: push an artifact (blobs, then the manifest),
 * fetch a manifest, and download a blob to a file with resume (HTTP Range) and sha256 verification.
 *
 * This file imports nothing from the hub and nothing but Bun and node built-ins, so the node agent can
 * use it (it is meant to move to a shared package).
 */
import { open, rename, rm, stat } from "node:fs/promises";

const MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json";
const EMPTY_TYPE = "application/vnd.oci.empty.v1+json";
const ACCEPT_MANIFESTS = [
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.docker.distribution.manifest.v2+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
].join(", ");
const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
const DEFAULT_CHUNK_BYTES = 64 * 1024 * 1024;
const SHA256_RE = /^sha256:[a-f0-9]{64}$/;

/** Options common to every call. */
export interface ClientOptions {
  /** Bearer token sent as `Authorization` (needed to push). */
  token?: string;
  signal?: AbortSignal;
  /** Replaces global fetch (tests, custom TLS). */
  fetch?: typeof fetch;
}

/** One blob of an artifact: from a file (streamed) or from bytes. */
export interface ArtifactBlob {
  mediaType: string;
  path?: string;
  bytes?: Uint8Array;
  annotations?: Record<string, string>;
}

/** An artifact to push: one OCI image manifest with these layers and config. */
export interface ArtifactInput {
  artifactType?: string;
  /** Without a config, the spec's empty descriptor (`{}`, application/vnd.oci.empty.v1+json) is used. */
  config?: ArtifactBlob;
  layers: ArtifactBlob[];
  annotations?: Record<string, string>;
  /** The manifest this one refers to (OCI 1.1 referrers: an SBOM, a signature). */
  subject?: Descriptor;
}

/** An OCI content descriptor. */
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
}

/** A manifest as fetched, verified against its digest. */
export interface FetchedManifest {
  digest: string;
  mediaType: string;
  bytes: Uint8Array;
  json: unknown;
}

/** Options of fetchBlobToFile. */
export interface FetchBlobOptions extends ClientOptions {
  /** Called after each chunk written, with the total bytes now in the file. */
  onProgress?: (bytes: number) => void;
  /**
   * The size the blob's descriptor names. A blob served longer is refused before its first byte past
   * this size is written (and the rest is not read); a partial file already longer is started over.
   */
  size?: number;
}

/** What an error is about, for callers that branch on it. */
export type OciClientErrorKind = "http" | "digest_mismatch" | "invalid";

/** An error from the client; `kind` says what went wrong, `status`/`code` come from the registry. */
export class OciClientError extends Error {
  constructor(
    readonly kind: OciClientErrorKind,
    message: string,
    readonly details: { status?: number; code?: string; expected?: string; actual?: string } = {},
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = "OciClientError";
  }
}

const trimBase = (baseUrl: string) => baseUrl.replace(/\/+$/, "");

function headers(opts: ClientOptions, extra: Record<string, string> = {}): Record<string, string> {
  return opts.token ? { authorization: `Bearer ${opts.token}`, ...extra } : extra;
}

async function httpError(what: string, res: Response): Promise<OciClientError> {
  let code: string | undefined;
  let message = "";
  try {
    const body = (await res.json()) as { errors?: { code?: string; message?: string }[] };
    code = body.errors?.[0]?.code;
    message = body.errors?.map((e) => `${e.code}: ${e.message}`).join("; ") ?? "";
  } catch {
    // Not the spec's JSON error body (HEAD responses, proxies); the status says enough.
  }
  return new OciClientError("http", `${what}: HTTP ${res.status}${message ? ` ${message}` : ""}`, {
    status: res.status,
    code,
  });
}

/** sha256 digest and size of a blob source, streaming files. */
async function describe(blob: ArtifactBlob): Promise<Descriptor> {
  const hasher = new Bun.CryptoHasher("sha256");
  let size = 0;
  if (blob.bytes) {
    hasher.update(blob.bytes);
    size = blob.bytes.byteLength;
  } else if (blob.path) {
    for await (const chunk of Bun.file(blob.path).stream()) {
      hasher.update(chunk);
      size += chunk.byteLength;
    }
  } else {
    throw new OciClientError("invalid", `blob of type ${blob.mediaType} has neither path nor bytes`);
  }
  const d: Descriptor = { mediaType: blob.mediaType, digest: `sha256:${hasher.digest("hex")}`, size };
  if (blob.annotations) d.annotations = blob.annotations;
  return d;
}

function slice(blob: ArtifactBlob, start: number, end: number): Blob | Uint8Array {
  if (blob.bytes) return blob.bytes.subarray(start, end);
  return Bun.file(blob.path ?? "").slice(start, end);
}

/**
 * Pushes one blob unless the registry has it: a session, then one PUT for small blobs or PATCH chunks
 * of `chunkBytes` for big ones (each chunk retried once from the offset the registry reports).
 */
export async function pushBlob(
  baseUrl: string,
  repo: string,
  blob: ArtifactBlob,
  opts: ClientOptions & { chunkBytes?: number } = {},
): Promise<Descriptor> {
  const f = opts.fetch ?? fetch;
  const base = trimBase(baseUrl);
  const desc = await describe(blob);
  const head = await f(`${base}/v2/${repo}/blobs/${desc.digest}`, {
    method: "HEAD",
    headers: headers(opts),
    signal: opts.signal,
  });
  if (head.ok) return desc;

  const start = await f(`${base}/v2/${repo}/blobs/uploads/`, {
    method: "POST",
    headers: headers(opts),
    signal: opts.signal,
  });
  if (start.status !== 202) throw await httpError(`starting upload of ${desc.digest}`, start);
  let location = new URL(start.headers.get("location") ?? "", `${base}/`);
  const chunk = opts.chunkBytes ?? DEFAULT_CHUNK_BYTES;
  let offset = 0;
  if (desc.size > chunk) {
    let retried = false;
    while (offset < desc.size) {
      const end = Math.min(desc.size, offset + chunk);
      const res = await f(location, {
        method: "PATCH",
        headers: headers(opts, {
          "content-type": "application/octet-stream",
          "content-range": `${offset}-${end - 1}`,
        }),
        body: slice(blob, offset, end),
        signal: opts.signal,
      }).catch((e: unknown) => e);
      if (res instanceof Response && res.status === 202) {
        location = new URL(res.headers.get("location") ?? location.href, location);
        offset = end;
        retried = false;
        continue;
      }
      if (retried || opts.signal?.aborted) {
        if (res instanceof Response) throw await httpError(`uploading ${desc.digest} at ${offset}`, res);
        throw new OciClientError("http", `uploading ${desc.digest} at ${offset}`, {}, { cause: res });
      }
      // Resume: ask the registry where the session stands (Range: 0-<last byte>) and go on from there.
      retried = true;
      const status = await f(location, { headers: headers(opts), signal: opts.signal });
      if (status.status !== 204) throw await httpError(`upload status of ${desc.digest}`, status);
      // "0-0" is ambiguous (nothing, or one byte); chunks are far bigger than a byte, so read it as nothing.
      const last = Number(/^(?:bytes=)?0-(\d+)$/.exec(status.headers.get("range") ?? "")?.[1] ?? "0");
      offset = last === 0 ? 0 : last + 1;
    }
  }
  const put = new URL(location);
  put.searchParams.set("digest", desc.digest);
  const res = await f(put, {
    method: "PUT",
    headers: headers(opts, { "content-type": "application/octet-stream" }),
    body: offset < desc.size ? slice(blob, offset, desc.size) : new Uint8Array(0),
    signal: opts.signal,
  });
  if (res.status !== 201) throw await httpError(`committing ${desc.digest}`, res);
  return desc;
}

/**
 * Pushes an artifact: every blob (skipping those the registry has), then an OCI image manifest tagged
 * `tag` (`""`: pushed by digest only). Returns the manifest digest.
 * @example
 * const digest = await pushArtifact("https://hub:8443", "modules/base", "1.0.0", {
 *   artifactType: MODULE_ARTIFACT_TYPE,
 *   config: { mediaType: MODULE_CONFIG_MEDIA_TYPE, bytes: new TextEncoder().encode(JSON.stringify(mod)) },
 *   layers: [{ mediaType: MODULE_COMPOSEFS_MEDIA_TYPE, path: "base.cfs" }],
 * }, { token });
 */
export async function pushArtifact(
  baseUrl: string,
  repo: string,
  tag: string,
  input: ArtifactInput,
  opts: ClientOptions & { chunkBytes?: number } = {},
): Promise<string> {
  return (await pushArtifactDescriptor(baseUrl, repo, tag, input, opts)).digest;
}

/** {@link pushArtifact}, answering the pushed manifest's descriptor (what a referrer's `subject` names). */
export async function pushArtifactDescriptor(
  baseUrl: string,
  repo: string,
  tag: string,
  input: ArtifactInput,
  opts: ClientOptions & { chunkBytes?: number } = {},
): Promise<Descriptor> {
  const config = input.config ?? { mediaType: EMPTY_TYPE, bytes: new TextEncoder().encode("{}") };
  const configDesc = await pushBlob(baseUrl, repo, config, opts);
  const layers: Descriptor[] = [];
  for (const l of input.layers) layers.push(await pushBlob(baseUrl, repo, l, opts));
  const manifest: Record<string, unknown> = { schemaVersion: 2, mediaType: MANIFEST_TYPE };
  if (input.artifactType) manifest.artifactType = input.artifactType;
  manifest.config = configDesc;
  manifest.layers = layers;
  if (input.subject) manifest.subject = input.subject;
  if (input.annotations) manifest.annotations = input.annotations;
  const bytes = new TextEncoder().encode(JSON.stringify(manifest));
  const digest = `sha256:${new Bun.CryptoHasher("sha256").update(bytes).digest("hex")}`;
  const f = opts.fetch ?? fetch;
  // No tag: pushed by digest (a referrer needs none: it is found through its subject).
  const res = await f(`${trimBase(baseUrl)}/v2/${repo}/manifests/${tag || digest}`, {
    method: "PUT",
    headers: headers(opts, { "content-type": MANIFEST_TYPE }),
    body: bytes,
    signal: opts.signal,
  });
  if (res.status !== 201) throw await httpError(`pushing manifest ${repo}:${tag}`, res);
  const returned = res.headers.get("docker-content-digest");
  if (returned && returned !== digest) {
    throw new OciClientError(
      "digest_mismatch",
      `registry stored manifest as ${returned}, expected ${digest}`,
      {
        expected: digest,
        actual: returned,
      },
    );
  }
  return { mediaType: MANIFEST_TYPE, digest, size: bytes.length };
}

/**
 * Fetches a manifest by tag or digest and verifies it: its sha256 must equal the digest asked for
 * (by digest) and the `Docker-Content-Digest` the registry announced.
 */
export async function fetchManifest(
  baseUrl: string,
  repo: string,
  reference: string,
  opts: ClientOptions = {},
): Promise<FetchedManifest> {
  const f = opts.fetch ?? fetch;
  const res = await f(`${trimBase(baseUrl)}/v2/${repo}/manifests/${reference}`, {
    headers: headers(opts, { accept: ACCEPT_MANIFESTS }),
    signal: opts.signal,
  });
  if (res.status !== 200) throw await httpError(`fetching manifest ${repo}@${reference}`, res);
  const declared = Number(res.headers.get("content-length") ?? "0");
  if (declared > MAX_MANIFEST_BYTES) {
    await res.body?.cancel();
    throw new OciClientError("invalid", `manifest ${repo}@${reference} is ${declared} bytes, over the limit`);
  }
  // Read with the limit applied as bytes arrive: a chunked body announces no length.
  const bytes = await readLimited(res, MAX_MANIFEST_BYTES, `manifest ${repo}@${reference}`);
  const digest = `sha256:${new Bun.CryptoHasher("sha256").update(bytes).digest("hex")}`;
  for (const expected of [
    SHA256_RE.test(reference) ? reference : undefined,
    res.headers.get("docker-content-digest"),
  ]) {
    if (expected && expected !== digest) {
      throw new OciClientError(
        "digest_mismatch",
        `manifest ${repo}@${reference}: expected ${expected}, got ${digest}`,
        {
          expected,
          actual: digest,
        },
      );
    }
  }
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    throw new OciClientError("invalid", `manifest ${repo}@${reference} is not JSON`, {}, { cause: e });
  }
  const mediaType =
    (json as { mediaType?: unknown } | null)?.mediaType ??
    res.headers.get("content-type")?.split(";")[0] ??
    "";
  return { digest, mediaType: String(mediaType), bytes, json };
}

/** The body of `res`, refused (and the rest never read) as soon as it passes `limit` bytes. */
async function readLimited(res: Response, limit: number, what: string): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  if (res.body) {
    for await (const chunk of res.body) {
      total += chunk.byteLength;
      // Leaving the loop cancels the stream: nothing more is read.
      if (total > limit) throw new OciClientError("invalid", `${what} is over ${limit} bytes`);
      chunks.push(chunk);
    }
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

/** What fetchBlobToFile did. */
export interface FetchedBlob {
  digest: string;
  size: number;
  /** Bytes that were already on disk from an earlier, interrupted attempt. */
  resumedFrom: number;
}

/**
 * Downloads blob `digest` to `destPath`, verified. Bytes go to `<destPath>.partial` first; a later call
 * after an interruption resumes from its size with `Range: bytes=<n>-`. The file is renamed into place
 * only when its sha256 equals `digest`; on a mismatch the partial file is removed and an error names the
 * expected and actual digests. With `size` (the descriptor's) nothing past it is written or read.
 */
export async function fetchBlobToFile(
  baseUrl: string,
  repo: string,
  digest: string,
  destPath: string,
  opts: FetchBlobOptions = {},
): Promise<FetchedBlob> {
  if (!SHA256_RE.test(digest))
    throw new OciClientError("invalid", `unsupported digest ${digest.slice(0, 80)}`);
  const { size } = opts;
  if (size !== undefined && !(Number.isSafeInteger(size) && size >= 0))
    throw new OciClientError("invalid", `blob ${digest}: descriptor size ${size} is not a byte count`);
  const f = opts.fetch ?? fetch;
  const partial = `${destPath}.partial`;
  let have = await stat(partial).then(
    (s) => s.size,
    () => 0,
  );
  if (size !== undefined && have > size) {
    await rm(partial, { force: true });
    have = 0;
  }
  const hasher = new Bun.CryptoHasher("sha256");
  if (have > 0) {
    for await (const chunk of Bun.file(partial).stream()) hasher.update(chunk);
  }
  const res = await f(`${trimBase(baseUrl)}/v2/${repo}/blobs/${digest}`, {
    headers: headers(opts, have > 0 ? { range: `bytes=${have}-` } : {}),
    signal: opts.signal,
  });
  let resumedFrom = 0;
  let position = 0;
  if (res.status === 206 && res.headers.get("content-range")?.startsWith(`bytes ${have}-`)) {
    resumedFrom = have;
    position = have;
  } else if (res.status === 416 && have > 0) {
    // The partial file already holds the whole blob (or more): verify what is there.
    await res.body?.cancel();
    resumedFrom = have;
    position = have;
  } else if (res.status !== 200) {
    throw await httpError(`fetching blob ${digest}`, res);
  }
  const tooLong = (n: number) =>
    new OciClientError(
      "invalid",
      `blob ${repo}@${digest}: served with ${n} bytes or more, its descriptor says ${size}`,
      { expected: String(size), actual: String(n) },
    );
  if (size !== undefined && res.status !== 416) {
    const declared = Number(res.headers.get("content-length") ?? "-1");
    if (declared >= 0 && position + declared > size) {
      await res.body?.cancel();
      await rm(partial, { force: true });
      throw tooLong(position + declared);
    }
  }
  // A 200 means the registry ignored the Range (RFC 9110 allows it): start over with a fresh hash.
  const h = position === 0 ? new Bun.CryptoHasher("sha256") : hasher;
  const fh = await open(partial, position === 0 ? "w" : "r+");
  let over: OciClientError | undefined;
  try {
    if (res.status !== 416 && res.body) {
      for await (const chunk of res.body) {
        // Nothing past the descriptor's size reaches the disk; leaving the loop cancels the body.
        if (size !== undefined && position + chunk.byteLength > size) {
          over = tooLong(position + chunk.byteLength);
          break;
        }
        h.update(chunk);
        let off = 0;
        while (off < chunk.byteLength) {
          const { bytesWritten } = await fh.write(chunk, off, chunk.byteLength - off, position + off);
          off += bytesWritten;
        }
        position += chunk.byteLength;
        opts.onProgress?.(position);
      }
    }
  } finally {
    await fh.close();
  }
  if (over) {
    await rm(partial, { force: true });
    throw over;
  }
  const actual = `sha256:${h.digest("hex")}`;
  if (actual !== digest) {
    await rm(partial, { force: true });
    throw new OciClientError("digest_mismatch", `blob ${repo}@${digest}: expected ${digest}, got ${actual}`, {
      expected: digest,
      actual,
    });
  }
  await rename(partial, destPath);
  return { digest, size: position, resumedFrom };
}
