/**
 * Membership credentials, shared by the hub (signer) and the agent (verifier) so the two never disagree
 * on the bytes: the envelope (ten keys in a fixed order, serialised by `canonicalEnvelope`), its parser
 * for untrusted text, and the verification of a wire MembershipCredential against a network's
 * constellation key (Ed25519 over the exact UTF-8 bytes of `envelope`).
 */
import { createHash, createPublicKey, verify } from "node:crypto";
import { isIPv6 } from "node:net";
import type { MembershipCredential } from "./gen/powernode/v1/network_pb.ts";

/** What a credential asserts: `sub` (a node) is a member of `aud` with this key, address and endpoints. */
export interface MembershipEnvelope {
  /** The constellation handle of the signing key ("net-" + 16 hex). */
  iss: string;
  /** The member's node id. */
  sub: string;
  /** `net-<network handle>`. */
  aud: string;
  /** Issued at, valid from, valid until (exclusive): unix seconds. */
  iat: number;
  nbf: number;
  exp: number;
  /** Revision, increasing per member. */
  rev: number;
  /** The member's WireGuard public key (base64 of 32 bytes). */
  wg_pubkey: string;
  /** The member's overlay /128, without a length. */
  addr_v6: string;
  /** Underlay endpoints "host:port", preferred first. */
  endpoints: string[];
}

/** The envelope's keys, in the order `canonicalEnvelope` writes them. */
export const ENVELOPE_KEYS = [
  "iss",
  "sub",
  "aud",
  "iat",
  "nbf",
  "exp",
  "rev",
  "wg_pubkey",
  "addr_v6",
  "endpoints",
] as const satisfies readonly (keyof MembershipEnvelope)[];

/** The envelope as the JSON text that is signed: exactly the ten keys, in `ENVELOPE_KEYS` order. */
export function canonicalEnvelope(e: MembershipEnvelope): string {
  return JSON.stringify({
    iss: e.iss,
    sub: e.sub,
    aud: e.aud,
    iat: e.iat,
    nbf: e.nbf,
    exp: e.exp,
    rev: e.rev,
    wg_pubkey: e.wg_pubkey,
    addr_v6: e.addr_v6,
    endpoints: [...e.endpoints],
  });
}

/** The constellation handle of an Ed25519 public key (raw 32 bytes, base64): "net-" + 16 hex of its SHA-256. */
export function constellationHandleOf(publicKeyB64: string): string {
  return `net-${createHash("sha256").update(Buffer.from(publicKeyB64, "base64")).digest("hex").slice(0, 16)}`;
}

/** Base64 of exactly 32 bytes (a WireGuard or Ed25519 public key). */
const KEY32_RE = /^[A-Za-z0-9+/]{43}=$/;

export type ParseEnvelopeResult = { ok: true; value: MembershipEnvelope } | { ok: false; error: string };

/** Parses untrusted envelope text: a JSON object with exactly the ten keys, each of its type; errors name the key. */
export function parseEnvelope(text: string): ParseEnvelopeResult {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    return { ok: false, error: `envelope: not JSON (${(e as Error).message})` };
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw))
    return { ok: false, error: "envelope: not a JSON object" };
  const o = raw as Record<string, unknown>;
  const known = new Set<string>(ENVELOPE_KEYS);
  const extra = Object.keys(o).filter((k) => !known.has(k));
  if (extra.length > 0) return { ok: false, error: `${extra[0]}: unknown key` };
  for (const k of ENVELOPE_KEYS) if (!(k in o)) return { ok: false, error: `${k}: missing` };
  for (const k of ["iss", "sub", "aud"] as const) {
    if (typeof o[k] !== "string" || o[k] === "") return { ok: false, error: `${k}: not a non-empty string` };
  }
  for (const k of ["iat", "nbf", "exp", "rev"] as const) {
    const v = o[k];
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0)
      return { ok: false, error: `${k}: not a non-negative integer` };
  }
  if (typeof o.wg_pubkey !== "string" || !KEY32_RE.test(o.wg_pubkey))
    return { ok: false, error: "wg_pubkey: not base64 of 32 bytes" };
  if (typeof o.addr_v6 !== "string" || !isIPv6(o.addr_v6) || o.addr_v6.includes("%"))
    return { ok: false, error: "addr_v6: not an IPv6 address (without a length)" };
  const eps = o.endpoints;
  if (!Array.isArray(eps) || eps.some((x) => typeof x !== "string" || x === ""))
    return { ok: false, error: "endpoints: not an array of non-empty strings" };
  const value = o as unknown as MembershipEnvelope;
  if (value.exp <= value.nbf) return { ok: false, error: "exp: not after nbf" };
  return { ok: true, value };
}

/** What the verifier expects the envelope to name; each given field must match exactly. */
export interface CredentialExpectations {
  /** The peer's WireGuard public key (`wg_pubkey`). */
  publicKey?: string;
  /** The peer's overlay address (`addr_v6`). */
  address?: string;
  /** `net-<network handle>` (`aud`). */
  aud?: string;
  /** The peer's node id (`sub`). */
  sub?: string;
}

export interface VerifyCredentialOptions {
  now: Date;
  expect?: CredentialExpectations;
  /** The highest revision already accepted for this member: a lower one is refused. */
  minRevision?: number;
}

export type VerifyCredentialResult =
  | { ok: true; envelope: MembershipEnvelope }
  | { ok: false; reason: string };

/** DER prefix of an Ed25519 SubjectPublicKeyInfo; the raw 32-byte key follows. */
const ED25519_SPKI_PREFIX = Buffer.from("302a300506032b6570032100", "hex");

/**
 * Verifies a credential: the Ed25519 signature over the exact UTF-8 bytes of `wire.envelope` with the
 * constellation key (raw 32 bytes, base64), the envelope's form, its issuer (the handle of that key),
 * the wire fields against the envelope, the window `nbf <= now < exp`, the expectations and
 * `rev >= minRevision`. Never throws; `reason` names the field that failed.
 */
export function verifyCredential(
  wire: MembershipCredential,
  constellationPublicKeyB64: string,
  opts: VerifyCredentialOptions,
): VerifyCredentialResult {
  const fail = (reason: string): VerifyCredentialResult => ({ ok: false, reason });
  if (!KEY32_RE.test(constellationPublicKeyB64))
    return fail("constellation public key: not base64 of 32 bytes");
  if (!/^[A-Za-z0-9+/]{86}==$/.test(wire.signature)) return fail("signature: not base64 of 64 bytes");
  let signed: boolean;
  try {
    const key = createPublicKey({
      key: Buffer.concat([ED25519_SPKI_PREFIX, Buffer.from(constellationPublicKeyB64, "base64")]),
      format: "der",
      type: "spki",
    });
    signed = verify(null, Buffer.from(wire.envelope, "utf8"), key, Buffer.from(wire.signature, "base64"));
  } catch (e) {
    return fail(`constellation public key: not an Ed25519 key (${(e as Error).message})`);
  }
  if (!signed) return fail("signature: does not verify over the envelope with the constellation key");
  const parsed = parseEnvelope(wire.envelope);
  if (!parsed.ok) return fail(`envelope: ${parsed.error}`);
  const env = parsed.value;
  const handle = constellationHandleOf(constellationPublicKeyB64);
  if (env.iss !== handle)
    return fail(`iss: ${env.iss} is not the handle of the constellation key (${handle})`);
  if (wire.constellationHandle !== env.iss)
    return fail(
      `constellation_handle: ${wire.constellationHandle} differs from the envelope's iss ${env.iss}`,
    );
  if (wire.revision !== BigInt(env.rev))
    return fail(`revision: ${wire.revision} differs from the envelope's rev ${env.rev}`);
  if (wire.notBefore && wire.notBefore.seconds !== BigInt(env.nbf))
    return fail(`not_before: ${wire.notBefore.seconds} differs from the envelope's nbf ${env.nbf}`);
  if (wire.notAfter && wire.notAfter.seconds !== BigInt(env.exp))
    return fail(`not_after: ${wire.notAfter.seconds} differs from the envelope's exp ${env.exp}`);
  const nowSeconds = opts.now.getTime() / 1000;
  if (nowSeconds < env.nbf) return fail(`nbf: not valid before ${new Date(env.nbf * 1000).toISOString()}`);
  if (nowSeconds >= env.exp) return fail(`exp: expired at ${new Date(env.exp * 1000).toISOString()}`);
  const want = opts.expect ?? {};
  const pairs = [
    ["wg_pubkey", env.wg_pubkey, want.publicKey],
    ["addr_v6", env.addr_v6, want.address],
    ["aud", env.aud, want.aud],
    ["sub", env.sub, want.sub],
  ] as const;
  for (const [key, got, expected] of pairs) {
    if (expected !== undefined && got !== expected) return fail(`${key}: ${got}, want ${expected}`);
  }
  if (opts.minRevision !== undefined && env.rev < opts.minRevision)
    return fail(`rev: ${env.rev} is below revision ${opts.minRevision} already accepted`);
  return { ok: true, envelope: env };
}
