/**
 * Blob endpoints of the OCI distribution API: pulling blobs (with Range) and pushing them
 * (monolithic POST, chunked and resumable PATCH sessions, PUT to commit, GET status, DELETE to cancel).
 */
import { type BlobStore, isUploadRangeError, type UploadInfo } from "./blob-store.ts";
import { OciError } from "./errors.ts";
import type { Digest } from "./reference.ts";
import { formatUploadRange, parseContentRange, parseDigest, parseRangeHeader } from "./reference.ts";

/** What blob handlers need. */
export interface BlobRouteDeps {
  blobs: BlobStore;
}

/** Parses a digest from a path or query, answering 400 DIGEST_INVALID when it is bad or missing. */
export function requireDigest(raw: string | null, where: string): Digest {
  if (raw === null) throw new OciError(400, "DIGEST_INVALID", `${where}: digest is required`);
  const d = parseDigest(raw);
  if (!d.ok) throw new OciError(400, "DIGEST_INVALID", `${where}: ${d.error}`, { digest: raw.slice(0, 200) });
  return d.value;
}

/** GET/HEAD /v2/<name>/blobs/<digest>: the blob, or the single byte range asked for (RFC 9110 §14). */
export async function getBlob(deps: BlobRouteDeps, req: Request, rawDigest: string): Promise<Response> {
  const digest = requireDigest(rawDigest, "blob");
  const blob = await deps.blobs.stat(digest);
  if (!blob) throw new OciError(404, "BLOB_UNKNOWN", "blob unknown to registry", { digest: digest.text });
  const headers: Record<string, string> = {
    "docker-content-digest": digest.text,
    "content-type": "application/octet-stream",
    "accept-ranges": "bytes",
    etag: `"${digest.text}"`,
    // Content-addressed: the bytes behind a digest never change.
    "cache-control": "public, max-age=31536000, immutable",
  };
  const range = parseRangeHeader(req.headers.get("range"), blob.size);
  if (!range.ok) {
    return new Response(null, {
      status: 416,
      headers: { ...headers, "content-range": `bytes */${blob.size}` },
    });
  }
  const { start, end } = range.value ?? { start: 0, end: blob.size - 1 };
  const length = Math.max(0, end - start + 1);
  const status = range.value ? 206 : 200;
  if (range.value) headers["content-range"] = `bytes ${start}-${end}/${blob.size}`;
  if (req.method === "HEAD") {
    return new Response(null, { status, headers: { ...headers, "content-length": String(length) } });
  }
  const file = Bun.file(blob.path);
  return new Response(range.value ? file.slice(start, end + 1) : file, { status, headers });
}

function uploadHeaders(name: string, up: UploadInfo): Record<string, string> {
  return {
    location: `/v2/${name}/blobs/uploads/${up.id}`,
    range: formatUploadRange(up.offset),
    "docker-upload-uuid": up.id,
    "blob-upload-session-id": up.id,
  };
}

function created(name: string, digest: string): Response {
  return new Response(null, {
    status: 201,
    headers: {
      location: `/v2/${name}/blobs/${digest}`,
      "docker-content-digest": digest,
      "content-length": "0",
    },
  });
}

function digestMismatch(expected: string, actual: string, size: number): OciError {
  return new OciError(400, "DIGEST_INVALID", `content hashes to ${actual}, not ${expected}`, {
    expected,
    actual,
    size,
  });
}

/**
 * POST /v2/<name>/blobs/uploads/: with `?digest=` a monolithic upload of the body; with `?mount=`
 * a cross-repository mount (blobs are global here, so any known blob mounts); otherwise a new session.
 */
export async function startUpload(
  deps: BlobRouteDeps,
  req: Request,
  url: URL,
  name: string,
): Promise<Response> {
  const mount = url.searchParams.get("mount");
  if (mount !== null) {
    const d = parseDigest(mount);
    // An unknown or bad mount digest falls back to a plain session, as the spec asks.
    if (d.ok && (await deps.blobs.stat(d.value))) return created(name, d.value.text);
  }
  const rawDigest = url.searchParams.get("digest");
  if (rawDigest !== null) {
    const digest = requireDigest(rawDigest, "upload");
    const r = await deps.blobs.putStream(req.body, digest);
    if (!r.ok) throw digestMismatch(digest.text, r.actual, r.size);
    return created(name, digest.text);
  }
  const up = await deps.blobs.createUpload(name);
  return new Response(null, { status: 202, headers: uploadHeaders(name, up) });
}

async function requireUpload(deps: BlobRouteDeps, name: string, id: string): Promise<UploadInfo> {
  const up = await deps.blobs.getUpload(id);
  // A session belongs to the repository it was started in.
  if (!up || up.name !== name) {
    throw new OciError(404, "BLOB_UPLOAD_UNKNOWN", "blob upload unknown to registry", {
      session: id.slice(0, 64),
    });
  }
  return up;
}

/** Appends the request body to a session, honouring Content-Range when given; 416 when out of order. */
async function appendChunk(
  deps: BlobRouteDeps,
  req: Request,
  name: string,
  up: UploadInfo,
): Promise<UploadInfo> {
  const cr = req.headers.get("content-range");
  let start: number | undefined;
  let length: number | undefined;
  if (cr !== null) {
    const r = parseContentRange(cr);
    if (!r.ok) {
      throw new OciError(416, "BLOB_UPLOAD_INVALID", r.error, undefined, uploadHeaders(name, up));
    }
    start = r.value.start;
    length = r.value.end - r.value.start + 1;
  }
  try {
    return await deps.blobs.appendUpload(up.id, req.body, start, length);
  } catch (e) {
    if (isUploadRangeError(e)) {
      throw new OciError(
        416,
        "BLOB_UPLOAD_INVALID",
        e.message,
        { offset: e.offset },
        uploadHeaders(name, { ...up, offset: e.offset }),
      );
    }
    throw e;
  }
}

/** PATCH /v2/<name>/blobs/uploads/<id>: one chunk, in order. */
export async function patchUpload(
  deps: BlobRouteDeps,
  req: Request,
  name: string,
  id: string,
): Promise<Response> {
  const up = await appendChunk(deps, req, name, await requireUpload(deps, name, id));
  return new Response(null, { status: 202, headers: uploadHeaders(name, up) });
}

/** PUT /v2/<name>/blobs/uploads/<id>?digest=: the optional last chunk, then verification and commit. */
export async function putUpload(
  deps: BlobRouteDeps,
  req: Request,
  url: URL,
  name: string,
  id: string,
): Promise<Response> {
  const digest = requireDigest(url.searchParams.get("digest"), "upload");
  const up = await requireUpload(deps, name, id);
  if (req.body) await appendChunk(deps, req, name, up);
  const r = await deps.blobs.commitUpload(id, digest);
  if (!r.ok) throw digestMismatch(digest.text, r.actual, r.size);
  return created(name, digest.text);
}

/** GET /v2/<name>/blobs/uploads/<id>: the session's offset, so a client can resume. */
export async function uploadStatus(deps: BlobRouteDeps, name: string, id: string): Promise<Response> {
  const up = await requireUpload(deps, name, id);
  return new Response(null, { status: 204, headers: uploadHeaders(name, up) });
}

/** DELETE /v2/<name>/blobs/uploads/<id>: cancels the session and drops its data. */
export async function cancelUpload(deps: BlobRouteDeps, name: string, id: string): Promise<Response> {
  await requireUpload(deps, name, id);
  await deps.blobs.cancelUpload(id);
  return new Response(null, { status: 204 });
}
