/**
 * Validation of pushed manifests: the bytes must be JSON of a media type we accept, with
 * `schemaVersion: 2` and well-formed descriptors. Returns the blobs and child manifests the manifest
 * references, so the registry can check they exist before storing it.
 */
import { type Digest, type Parsed, parseDigest } from "./reference.ts";

/** OCI image manifest (image-spec v1.1). */
export const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
/** OCI image index (image-spec v1.1). */
export const OCI_INDEX = "application/vnd.oci.image.index.v1+json";
/** Docker image manifest v2 schema 2. */
export const DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json";
/** Docker manifest list v2 schema 2. */
export const DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json";
/** The empty JSON descriptor's media type (`{}`), used as config of artifacts without one. */
export const OCI_EMPTY = "application/vnd.oci.empty.v1+json";

/** Manifest media types the registry stores. */
export const MANIFEST_MEDIA_TYPES: readonly string[] = [
  OCI_MANIFEST,
  OCI_INDEX,
  DOCKER_MANIFEST,
  DOCKER_MANIFEST_LIST,
];

/** The largest manifest accepted (the spec's suggested minimum limit is 4 MiB). */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

/** An OCI content descriptor. */
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  artifactType?: string;
}

/** A descriptor's digest and declared size. */
export interface DescriptorRef {
  digest: Digest;
  size: number;
}

/** What a valid manifest refers to. */
export interface ManifestInfo {
  mediaType: string;
  /** Blobs (config, layers) that must exist in the registry with the declared sizes. */
  blobs: DescriptorRef[];
  /** Child manifests (of an index) that must exist in the repository. */
  manifests: DescriptorRef[];
  /** The `subject` (referrers API), when present; it need not exist. */
  subject?: DescriptorRef;
  /** `artifactType`, or for an image manifest without one its config media type (spec: referrers). */
  artifactType?: string;
  annotations?: Record<string, string>;
}

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * Parses and validates manifest bytes. `contentType` is the request's Content-Type; when the body also
 * carries `mediaType` they must agree. Without a usable Content-Type the body's `mediaType` decides.
 */
export function parseManifest(bytes: Uint8Array, contentType: string | null): Parsed<ManifestInfo> {
  let doc: unknown;
  try {
    doc = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (e) {
    return { ok: false, error: `manifest is not UTF-8 JSON: ${e instanceof Error ? e.message : String(e)}` };
  }
  if (!isObject(doc)) return { ok: false, error: "manifest is not a JSON object" };
  if (doc.schemaVersion !== 2) return { ok: false, error: "manifest schemaVersion must be 2" };

  const ct = contentType?.split(";")[0]?.trim().toLowerCase() || undefined;
  const bodyType = typeof doc.mediaType === "string" ? doc.mediaType : undefined;
  if (doc.mediaType !== undefined && bodyType === undefined)
    return { ok: false, error: "mediaType must be a string" };
  const known = (t: string | undefined) => t !== undefined && MANIFEST_MEDIA_TYPES.includes(t);
  const mediaType = known(ct) ? ct : bodyType;
  if (!mediaType || !known(mediaType)) {
    return { ok: false, error: `unsupported manifest media type ${JSON.stringify(ct ?? bodyType ?? null)}` };
  }
  if (bodyType !== undefined && bodyType !== mediaType) {
    return { ok: false, error: `mediaType ${bodyType} does not match Content-Type ${mediaType}` };
  }
  if ((mediaType === DOCKER_MANIFEST || mediaType === DOCKER_MANIFEST_LIST) && bodyType === undefined) {
    return { ok: false, error: "Docker manifests must carry mediaType" };
  }

  const isIndex = mediaType === OCI_INDEX || mediaType === DOCKER_MANIFEST_LIST;
  const info: ManifestInfo = { mediaType, blobs: [], manifests: [] };
  if (isIndex) {
    if (!Array.isArray(doc.manifests)) return { ok: false, error: "index has no manifests array" };
    for (const [i, m] of doc.manifests.entries()) {
      const d = parseDescriptor(m, `manifests[${i}]`);
      if (!d.ok) return d;
      info.manifests.push(d.value);
    }
  } else {
    const config = parseDescriptor(doc.config, "config");
    if (!config.ok) return config;
    info.blobs.push(config.value);
    const configType = (doc.config as Json).mediaType;
    if (typeof configType === "string") info.artifactType = configType;
    if (!Array.isArray(doc.layers)) return { ok: false, error: "manifest has no layers array" };
    for (const [i, l] of doc.layers.entries()) {
      const d = parseDescriptor(l, `layers[${i}]`);
      if (!d.ok) return d;
      info.blobs.push(d.value);
    }
  }
  if (doc.subject !== undefined) {
    const s = parseDescriptor(doc.subject, "subject");
    if (!s.ok) return s;
    info.subject = s.value;
  }
  if (doc.annotations !== undefined) {
    if (!isStringMap(doc.annotations)) return { ok: false, error: "annotations must map strings to strings" };
    info.annotations = doc.annotations as Record<string, string>;
  }
  if (doc.artifactType !== undefined) {
    if (typeof doc.artifactType !== "string") return { ok: false, error: "artifactType must be a string" };
    info.artifactType = doc.artifactType;
  }
  return { ok: true, value: info };
}

function parseDescriptor(v: unknown, field: string): Parsed<DescriptorRef> {
  if (!isObject(v)) return { ok: false, error: `${field} is not a descriptor object` };
  if (typeof v.mediaType !== "string" || v.mediaType.length === 0) {
    return { ok: false, error: `${field}.mediaType is missing` };
  }
  if (typeof v.size !== "number" || !Number.isSafeInteger(v.size) || v.size < 0) {
    return { ok: false, error: `${field}.size must be a non-negative integer` };
  }
  if (typeof v.digest !== "string") return { ok: false, error: `${field}.digest is missing` };
  const d = parseDigest(v.digest);
  if (!d.ok) return { ok: false, error: `${field}.digest: ${d.error}` };
  if (v.annotations !== undefined && !isStringMap(v.annotations)) {
    return { ok: false, error: `${field}.annotations must map strings to strings` };
  }
  return { ok: true, value: { digest: d.value, size: v.size } };
}

function isStringMap(v: unknown): boolean {
  return isObject(v) && Object.values(v).every((x) => typeof x === "string");
}
