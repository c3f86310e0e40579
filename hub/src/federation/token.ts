/**
 * Acceptance tokens: `pnf1.<payload>.<secret>`, where the payload (base64url JSON) names the proposer's
 * TLS listener and the SHA-256 of its CA certificate, and the secret is 256 random bits. The proposer
 * stores only the SHA-256 of the whole token. The acceptor reads the payload to know where to call and
 * which CA to trust: it pins the CA the proposer presents to the fingerprint, so a man in the middle
 * of that first call can neither read the token nor pose as the proposer.
 */
import { createHash, randomBytes, X509Certificate } from "node:crypto";
import { DomainError } from "../errors.ts";

const PREFIX = "pnf1";
/** Longest token looked at (a real one is about 200 characters). */
const MAX_TOKEN = 2048;

/** What a token tells the acceptor. */
export interface TokenPayload {
  /** The proposer's TLS listener. */
  url: string;
  /** SHA-256 hex of the proposer's CA certificate (DER). */
  caSha256: string;
}

/** SHA-256 hex of a PEM certificate's DER; throws naming `field` when it is not one. */
export function caFingerprint(pem: string, field = "ca_pem"): string {
  try {
    return createHash("sha256").update(new X509Certificate(pem).raw).digest("hex");
  } catch {
    throw new DomainError("invalid_argument", `${field}: not a PEM certificate`);
  }
}

/** A fresh token for `payload`. */
export function newAcceptanceToken(payload: TokenPayload): string {
  const p = Buffer.from(JSON.stringify({ u: payload.url, f: payload.caSha256 })).toString("base64url");
  return `${PREFIX}.${p}.${randomBytes(32).toString("base64url")}`;
}

/** Parses an untrusted token; throws an invalid_argument naming `field`. */
export function parseAcceptanceToken(raw: string, field = "token"): TokenPayload {
  const token = raw.trim();
  if (token === "") throw new DomainError("invalid_argument", `${field}: required`);
  if (token.length > MAX_TOKEN)
    throw new DomainError("invalid_argument", `${field}: longer than ${MAX_TOKEN}`);
  const [prefix, payload, secret, ...rest] = token.split(".");
  if (prefix !== PREFIX || !payload || !secret || rest.length > 0 || !/^[A-Za-z0-9_-]{43}$/.test(secret))
    throw new DomainError("invalid_argument", `${field}: not an acceptance token (pnf1.<payload>.<secret>)`);
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(payload, "base64url").toString("utf8"));
  } catch {
    throw new DomainError("invalid_argument", `${field}: payload is not base64url JSON`);
  }
  const { u, f } = (json ?? {}) as { u?: unknown; f?: unknown };
  if (typeof u !== "string" || typeof f !== "string" || !/^[0-9a-f]{64}$/.test(f))
    throw new DomainError("invalid_argument", `${field}: payload lacks the proposer's url or CA fingerprint`);
  return { url: peerUrlField(`${field}.url`, u), caSha256: f };
}

/** An `https://host[:port]` URL of a hub's TLS listener, normalised to its origin. */
export function peerUrlField(field: string, raw: string): string {
  let u: URL;
  try {
    u = new URL(raw.trim());
  } catch {
    throw new DomainError("invalid_argument", `${field}: "${raw.slice(0, 200)}" is not a URL`);
  }
  if (u.protocol !== "https:")
    throw new DomainError("invalid_argument", `${field}: must be https:// (hub-to-hub calls are mutual TLS)`);
  if ((u.pathname !== "/" && u.pathname !== "") || u.search || u.hash || u.username)
    throw new DomainError("invalid_argument", `${field}: must be https://host[:port] only`);
  return u.origin;
}
