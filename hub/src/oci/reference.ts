/**
 * Parsers for the untrusted pieces of an OCI distribution request: repository names, digests, tags,
 * manifest references, and the `Range` / `Content-Range` headers. Each returns
 * `{ ok: true, value } | { ok: false, error }` and never throws.
 */

/** The result of parsing untrusted input. */
export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

/** A `sha256:<64 lowercase hex>` digest, split into its parts. */
export interface Digest {
  algorithm: "sha256";
  hex: string;
  /** The canonical `sha256:<hex>` string. */
  text: string;
}

/** A manifest reference: a tag or a digest. */
export type ManifestReference = { kind: "tag"; tag: string } | { kind: "digest"; digest: Digest };

/** An inclusive byte range `[start, end]` resolved against a known size. */
export interface ByteRange {
  start: number;
  end: number;
}

// OCI distribution spec v1.1, "Pulling manifests": the <name> and <reference> grammars.
const NAME_COMPONENT = "[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*";
const NAME_RE = new RegExp(`^${NAME_COMPONENT}(?:/${NAME_COMPONENT})*$`);
const TAG_RE = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;
// The spec's generic digest grammar, used to tell "unsupported algorithm" from "garbage".
const ANY_DIGEST_RE = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;
const SHA256_RE = /^sha256:([a-f0-9]{64})$/;

/** The longest repository name we accept; the spec suggests clients keep name+host under 255. */
export const MAX_NAME_LENGTH = 255;

/** Parses a repository name (`powernode/modules/base`) against the spec's regular expression. */
export function parseName(raw: string): Parsed<string> {
  if (raw.length === 0) return { ok: false, error: "repository name is empty" };
  if (raw.length > MAX_NAME_LENGTH)
    return { ok: false, error: `repository name longer than ${MAX_NAME_LENGTH}` };
  if (!NAME_RE.test(raw)) return { ok: false, error: `invalid repository name ${JSON.stringify(raw)}` };
  return { ok: true, value: raw };
}

/**
 * Parses a digest. Only sha256 is supported: a well-formed digest of another algorithm is rejected
 * with a message saying so, so the caller can answer DIGEST_INVALID / unsupported.
 */
export function parseDigest(raw: string): Parsed<Digest> {
  const m = SHA256_RE.exec(raw);
  if (m?.[1]) return { ok: true, value: { algorithm: "sha256", hex: m[1], text: raw } };
  if (ANY_DIGEST_RE.test(raw)) {
    const algorithm = raw.slice(0, raw.indexOf(":"));
    if (algorithm !== "sha256") return { ok: false, error: `unsupported digest algorithm ${algorithm}` };
  }
  return { ok: false, error: `invalid digest ${JSON.stringify(raw.slice(0, 100))}` };
}

/** Parses a tag (`v1.2.3`, `latest`): at most 128 characters of `[A-Za-z0-9_.-]`, not starting with `.` or `-`. */
export function parseTag(raw: string): Parsed<string> {
  if (!TAG_RE.test(raw)) return { ok: false, error: `invalid tag ${JSON.stringify(raw.slice(0, 130))}` };
  return { ok: true, value: raw };
}

/** Parses a manifest reference: a digest if it contains `:`, else a tag. */
export function parseReference(raw: string): Parsed<ManifestReference> {
  if (raw.includes(":")) {
    const d = parseDigest(raw);
    return d.ok ? { ok: true, value: { kind: "digest", digest: d.value } } : d;
  }
  const t = parseTag(raw);
  return t.ok ? { ok: true, value: { kind: "tag", tag: t.value } } : t;
}

/**
 * Parses a request `Range` header (RFC 9110 §14.1.2) against a resource of `size` bytes.
 * Returns `undefined` value when the header should be ignored (absent, several ranges, or another unit:
 * RFC 9110 lets a server ignore Range), and an error when the single range is unsatisfiable (-> 416).
 */
export function parseRangeHeader(header: string | null, size: number): Parsed<ByteRange | undefined> {
  if (header === null) return { ok: true, value: undefined };
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m) return { ok: true, value: undefined };
  const [, a = "", b = ""] = m;
  if (a === "" && b === "") return { ok: false, error: `invalid range ${header}` };
  if (a === "") {
    // Suffix range: the last N bytes.
    const n = Number(b);
    if (!Number.isSafeInteger(n) || n === 0 || size === 0)
      return { ok: false, error: `unsatisfiable range ${header}` };
    return { ok: true, value: { start: Math.max(0, size - n), end: size - 1 } };
  }
  const start = Number(a);
  const last = b === "" ? size - 1 : Math.min(Number(b), size - 1);
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(last) || start >= size || start > last) {
    return { ok: false, error: `unsatisfiable range ${header} for ${size} bytes` };
  }
  return { ok: true, value: { start, end: last } };
}

/**
 * Parses the `Content-Range` of an upload chunk. The distribution spec uses the bare `<start>-<end>`
 * form (inclusive); we also accept the RFC 9110 form `bytes <start>-<end>/<total|*>`.
 */
export function parseContentRange(header: string): Parsed<ByteRange> {
  const m = /^(?:bytes[ =])?(\d+)-(\d+)(?:\/(?:\d+|\*))?$/.exec(header.trim());
  if (!m) return { ok: false, error: `invalid Content-Range ${JSON.stringify(header.slice(0, 100))}` };
  const start = Number(m[1]);
  const end = Number(m[2]);
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || end < start) {
    return { ok: false, error: `invalid Content-Range ${header}` };
  }
  return { ok: true, value: { start, end } };
}

/** Formats the upload-progress `Range` header value: `0-<last byte>` (`0-0` when nothing arrived yet). */
export function formatUploadRange(offset: number): string {
  return `0-${Math.max(0, offset - 1)}`;
}
