/** Short, console-friendly descriptions of hub call failures ("ECONNREFUSED", "permission_denied: ..."). */
import { Code, ConnectError } from "@connectrpc/connect";

/** A system error code (ECONNREFUSED, ETIMEDOUT, ...) anywhere in the cause chain. */
function systemCode(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e !== undefined && e !== null && depth < 8; depth++) {
    if (typeof e === "object") {
      const code = (e as { code?: unknown }).code;
      // errno names (ECONNREFUSED), Node error codes (ERR_*), OpenSSL verify codes (CERT_HAS_EXPIRED).
      if (typeof code === "string" && /^[A-Z][A-Z0-9_]+$/.test(code)) return code;
      e = (e as { cause?: unknown }).cause;
    } else break;
  }
  return undefined;
}

const UNREACHABLE = new Set([
  Code.Unavailable,
  Code.DeadlineExceeded,
  Code.Canceled,
  Code.Unknown,
  Code.Internal,
]);

/** Whether the failure is the hub's TLS certificate not chaining to the identity CA (or expired). */
export function isUntrustedHub(err: unknown): boolean {
  return /CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|HOSTNAME_MISMATCH|ERR_TLS_CERT_ALTNAME/.test(
    systemCode(err) ?? "",
  );
}

/** Whether the failure means "could not talk to the hub" (rather than "the hub said no"). */
export function isUnreachable(err: unknown): boolean {
  if (systemCode(err)) return true;
  return !(err instanceof ConnectError) || UNREACHABLE.has(err.code);
}

/** "ECONNREFUSED", "deadline_exceeded", "permission_denied: bootstrap token used". */
export function describeError(err: unknown): string {
  const sys = systemCode(err);
  if (sys) return sys;
  if (err instanceof ConnectError) {
    const name = Code[err.code].replace(/[A-Z]/g, (c, i: number) =>
      i === 0 ? c.toLowerCase() : `_${c.toLowerCase()}`,
    );
    return err.rawMessage ? `${name}: ${err.rawMessage}` : name;
  }
  return err instanceof Error ? err.message : String(err);
}
