/**
 * Domain errors and the one table that maps them to Connect codes.
 */
import { Code, ConnectError } from "@connectrpc/connect";

/** What went wrong, independent of the protocol. */
export type DomainErrorKind =
  | "invalid_argument"
  | "not_found"
  | "already_exists"
  | "conflict"
  | "precondition"
  | "permission"
  | "unauthenticated"
  | "resource_exhausted"
  | "unavailable"
  | "internal";

/** The one mapping table from domain error kinds to Connect codes. */
export const CONNECT_CODE_BY_KIND: Readonly<Record<DomainErrorKind, Code>> = {
  invalid_argument: Code.InvalidArgument,
  not_found: Code.NotFound,
  already_exists: Code.AlreadyExists,
  conflict: Code.Aborted,
  precondition: Code.FailedPrecondition,
  permission: Code.PermissionDenied,
  unauthenticated: Code.Unauthenticated,
  resource_exhausted: Code.ResourceExhausted,
  unavailable: Code.Unavailable,
  internal: Code.Internal,
};

/**
 * An error raised by domain code. `message` is shown to the caller, so it names the field and the
 * reason (`"csr_pem: signature does not verify"`) and never carries secrets; `cause` goes to logs only.
 */
export class DomainError extends Error {
  constructor(
    readonly kind: DomainErrorKind,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = "DomainError";
  }
}

/** True for a DomainError, checked by `kind` rather than instanceof (safe across module copies). */
export function isDomainError(e: unknown): e is DomainError {
  return (
    e instanceof Error &&
    e.name === "DomainError" &&
    typeof (e as unknown as { kind?: unknown }).kind === "string" &&
    (e as unknown as { kind: string }).kind in CONNECT_CODE_BY_KIND
  );
}

/**
 * Turns anything thrown by a handler into a ConnectError: domain errors by the table, Connect errors
 * as they are, and everything else as Internal with a generic message (the cause is logged by the caller).
 */
export function toConnectError(e: unknown): ConnectError {
  if (e instanceof ConnectError) return e;
  if (isDomainError(e))
    return new ConnectError(e.message, CONNECT_CODE_BY_KIND[e.kind], undefined, undefined, e);
  return new ConnectError("internal error", Code.Internal, undefined, undefined, e);
}
