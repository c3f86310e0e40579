/**
 * OCI distribution error codes and the JSON error body of the spec (v1.1, "Error Codes"):
 * `{"errors":[{"code":"BLOB_UNKNOWN","message":"...","detail":{...}}]}`.
 */

/** The error codes defined by the OCI distribution spec, plus UNKNOWN for internal failures. */
export type OciErrorCode =
  | "BLOB_UNKNOWN"
  | "BLOB_UPLOAD_INVALID"
  | "BLOB_UPLOAD_UNKNOWN"
  | "DIGEST_INVALID"
  | "MANIFEST_BLOB_UNKNOWN"
  | "MANIFEST_INVALID"
  | "MANIFEST_UNKNOWN"
  | "NAME_INVALID"
  | "NAME_UNKNOWN"
  | "SIZE_INVALID"
  | "UNAUTHORIZED"
  | "DENIED"
  | "UNSUPPORTED"
  | "TOOMANYREQUESTS"
  // Not in the spec's table; the distribution registry uses it for unexpected server errors.
  | "UNKNOWN";

/** One entry of the spec's `errors` array. */
export interface OciErrorEntry {
  code: OciErrorCode;
  message: string;
  detail?: Record<string, unknown>;
}

/**
 * An error raised while handling a registry request; the handler turns it into a response with
 * `status` and the spec's JSON body. `headers` are added to that response (e.g. `WWW-Authenticate`).
 */
export class OciError extends Error {
  readonly errors: OciErrorEntry[];
  constructor(
    readonly status: number,
    code: OciErrorCode,
    message: string,
    detail?: Record<string, unknown>,
    readonly headers: Record<string, string> = {},
    options?: ErrorOptions,
  ) {
    super(`${code}: ${message}`, options);
    this.name = "OciError";
    this.errors = [{ code, message, ...(detail === undefined ? {} : { detail }) }];
  }
}

/** An OciError carrying several entries (e.g. one MANIFEST_BLOB_UNKNOWN per missing blob). */
export function manyOciErrors(status: number, first: OciErrorEntry, ...rest: OciErrorEntry[]): OciError {
  const err = new OciError(status, first.code, first.message, first.detail);
  err.errors.push(...rest);
  return err;
}

/** True for an OciError (checked by name and shape, not instanceof). */
export function isOciError(e: unknown): e is OciError {
  return e instanceof Error && e.name === "OciError" && Array.isArray((e as { errors?: unknown }).errors);
}

/** Builds the spec's JSON error response. */
export function ociErrorResponse(
  status: number,
  errors: readonly OciErrorEntry[],
  headers: Record<string, string> = {},
): Response {
  const h = new Headers(headers);
  // The body is JSON: a Content-Length meant for an empty success response must not leak in.
  h.delete("content-length");
  h.set("content-type", "application/json");
  return new Response(JSON.stringify({ errors }), { status, headers: h });
}
