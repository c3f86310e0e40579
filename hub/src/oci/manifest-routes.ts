/**
 * Manifest and tag endpoints of the OCI distribution API: GET/HEAD/PUT/DELETE
 * `/v2/<name>/manifests/<reference>` and `GET /v2/<name>/tags/list`.
 */
import type { BlobStore } from "./blob-store.ts";
import { isTooLargeError, readBody, TooLargeError } from "./blob-store.ts";
import { manyOciErrors, OciError, type OciErrorEntry } from "./errors.ts";
import { MAX_MANIFEST_BYTES, OCI_INDEX, parseManifest } from "./manifest.ts";
import type { ManifestEntry, ManifestStore, ReferrerDescriptor } from "./manifest-store.ts";
import { type Digest, type ManifestReference, parseDigest, parseReference, parseTag } from "./reference.ts";

/** What manifest handlers need. */
export interface ManifestRouteDeps {
  blobs: BlobStore;
  manifests: ManifestStore;
}

function requireReference(raw: string): ManifestReference {
  const r = parseReference(raw);
  if (r.ok) return r.value;
  const code = raw.includes(":") ? "DIGEST_INVALID" : "MANIFEST_INVALID";
  throw new OciError(400, code, `reference: ${r.error}`, { reference: raw.slice(0, 200) });
}

async function resolve(
  deps: ManifestRouteDeps,
  name: string,
  ref: ManifestReference,
): Promise<ManifestEntry> {
  const unknown = () =>
    new OciError(404, "MANIFEST_UNKNOWN", "manifest unknown to registry", {
      name,
      reference: ref.kind === "tag" ? ref.tag : ref.digest.text,
    });
  let digest = ref.kind === "digest" ? ref.digest : undefined;
  if (ref.kind === "tag") {
    const target = await deps.manifests.resolveTag(name, ref.tag);
    const d = target === undefined ? undefined : parseDigest(target);
    if (!d?.ok) throw unknown();
    digest = d.value;
  }
  const entry = digest && (await deps.manifests.get(name, digest));
  if (!entry) throw unknown();
  return entry;
}

/** GET/HEAD /v2/<name>/manifests/<reference>: the stored bytes, exactly as pushed. */
export async function getManifest(deps: ManifestRouteDeps, req: Request, name: string, rawRef: string) {
  const entry = await resolve(deps, name, requireReference(rawRef));
  const blob = await deps.blobs.stat({ algorithm: "sha256", hex: entry.hex, text: entry.digest });
  if (!blob)
    throw new OciError(404, "MANIFEST_UNKNOWN", "manifest content is missing", { digest: entry.digest });
  const headers = {
    "content-type": entry.mediaType,
    "docker-content-digest": entry.digest,
    etag: `"${entry.digest}"`,
  };
  if (req.method === "HEAD") {
    return new Response(null, { status: 200, headers: { ...headers, "content-length": String(blob.size) } });
  }
  return new Response(Bun.file(blob.path), { status: 200, headers });
}

/** Reads a body of at most `limit` bytes into memory (manifests only), checking Content-Length first. */
async function readCapped(req: Request, limit: number): Promise<Uint8Array> {
  const declared = Number(req.headers.get("content-length") ?? "0");
  if (declared > limit) throw new TooLargeError(limit);
  if (!req.body) return new Uint8Array(0);
  const parts: Uint8Array[] = [];
  let n = 0;
  for await (const chunk of readBody(req.body)) {
    n += chunk.byteLength;
    if (n > limit) throw new TooLargeError(limit);
    parts.push(chunk);
  }
  const out = new Uint8Array(n);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.byteLength;
  }
  return out;
}

/**
 * PUT /v2/<name>/manifests/<reference>: validates the manifest, checks that every blob it references
 * exists with the declared size (and every child manifest of an index exists in the repository),
 * then stores it and points the tag at it.
 */
export async function putManifest(deps: ManifestRouteDeps, req: Request, name: string, rawRef: string) {
  const ref = requireReference(rawRef);
  let bytes: Uint8Array;
  try {
    bytes = await readCapped(req, MAX_MANIFEST_BYTES);
  } catch (e) {
    if (!isTooLargeError(e)) throw e;
    throw new OciError(413, "SIZE_INVALID", `manifest larger than ${MAX_MANIFEST_BYTES} bytes`, {
      limit: MAX_MANIFEST_BYTES,
    });
  }
  const parsed = parseManifest(bytes, req.headers.get("content-type"));
  if (!parsed.ok) throw new OciError(400, "MANIFEST_INVALID", parsed.error);
  const digest = `sha256:${new Bun.CryptoHasher("sha256").update(bytes).digest("hex")}`;
  if (ref.kind === "digest" && ref.digest.text !== digest) {
    throw new OciError(400, "DIGEST_INVALID", `manifest hashes to ${digest}, not ${ref.digest.text}`, {
      expected: ref.digest.text,
      actual: digest,
    });
  }

  const problems: OciErrorEntry[] = [];
  for (const b of parsed.value.blobs) {
    const blob = await deps.blobs.stat(b.digest);
    if (!blob) {
      problems.push({
        code: "MANIFEST_BLOB_UNKNOWN",
        message: "blob unknown to registry",
        detail: { digest: b.digest.text },
      });
    } else if (blob.size !== b.size) {
      problems.push({
        code: "MANIFEST_INVALID",
        message: `descriptor size ${b.size} differs from the blob's ${blob.size}`,
        detail: { digest: b.digest.text },
      });
    }
  }
  for (const m of parsed.value.manifests) {
    if (!(await deps.manifests.get(name, m.digest))) {
      problems.push({
        code: "MANIFEST_BLOB_UNKNOWN",
        message: "manifest unknown to repository",
        detail: { digest: m.digest.text },
      });
    }
  }
  const [first, ...rest] = problems;
  if (first) throw manyOciErrors(400, first, ...rest);

  const stored = await deps.blobs.putBytes(bytes);
  const info = parsed.value;
  const referrer: ReferrerDescriptor = { mediaType: info.mediaType, digest, size: stored.size };
  if (info.artifactType) referrer.artifactType = info.artifactType;
  if (info.annotations) referrer.annotations = info.annotations;
  const hex = digest.slice("sha256:".length);
  await deps.manifests.put(name, { algorithm: "sha256", hex, text: digest }, info.mediaType, stored.size, {
    tag: ref.kind === "tag" ? ref.tag : undefined,
    subject: info.subject?.digest,
    referrer,
  });
  const headers: Record<string, string> = {
    location: `/v2/${name}/manifests/${digest}`,
    "docker-content-digest": digest,
    "content-length": "0",
  };
  // v1.1: a registry with the referrers API says so by echoing the subject.
  if (info.subject) headers["oci-subject"] = info.subject.digest.text;
  return new Response(null, { status: 201, headers });
}

/** DELETE /v2/<name>/manifests/<reference>: by digest removes the manifest and its tags; by tag, the tag. */
export async function deleteManifest(
  deps: ManifestRouteDeps,
  name: string,
  rawRef: string,
): Promise<Response> {
  const ref = requireReference(rawRef);
  const removed =
    ref.kind === "digest"
      ? await deps.manifests.deleteManifest(name, ref.digest)
      : await deps.manifests.deleteTag(name, ref.tag);
  if (!removed)
    throw new OciError(404, "MANIFEST_UNKNOWN", "manifest unknown to registry", { reference: rawRef });
  return new Response(null, { status: 202 });
}

/** GET /v2/<name>/tags/list with the spec's `n` and `last` pagination and a `Link` header for more. */
export async function listTags(deps: ManifestRouteDeps, url: URL, name: string): Promise<Response> {
  const all = await deps.manifests.listTags(name);
  if (all === undefined)
    throw new OciError(404, "NAME_UNKNOWN", "repository name not known to registry", { name });
  const last = url.searchParams.get("last");
  const rawN = url.searchParams.get("n");
  let tags = last === null ? all : all.filter((t) => t > last);
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (rawN !== null) {
    const n = Number(rawN);
    if (!/^\d+$/.test(rawN) || !Number.isSafeInteger(n)) {
      throw new OciError(400, "UNSUPPORTED", "n must be a non-negative integer", { n: rawN.slice(0, 20) });
    }
    if (tags.length > n) {
      tags = tags.slice(0, n);
      const lastTag = tags[tags.length - 1];
      if (lastTag !== undefined && parseTag(lastTag).ok) {
        headers.link = `</v2/${name}/tags/list?n=${n}&last=${encodeURIComponent(lastTag)}>; rel="next"`;
      }
    }
  }
  return new Response(JSON.stringify({ name, tags }), { status: 200, headers });
}

/**
 * GET /v2/<name>/referrers/<digest>[?artifactType=]: an OCI image index of the manifests whose
 * `subject` is `digest` (200 with an empty list when there are none, as v1.1 requires).
 */
export async function listReferrers(
  deps: ManifestRouteDeps,
  url: URL,
  name: string,
  subject: Digest,
): Promise<Response> {
  let manifests = await deps.manifests.listReferrers(name, subject);
  const headers: Record<string, string> = { "content-type": OCI_INDEX };
  const filter = url.searchParams.get("artifactType");
  if (filter !== null) {
    manifests = manifests.filter((m) => m.artifactType === filter);
    headers["oci-filters-applied"] = "artifactType";
  }
  return new Response(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests }), {
    status: 200,
    headers,
  });
}
