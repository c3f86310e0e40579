/**
 * The disk-image webhook at the edge (pure): the signature check and the payload's fields. Every
 * failure is a reason code the CI system can act on plus a message naming the field; nothing here
 * throws on any input.
 */
import { createHmac, timingSafeEqual } from "node:crypto";

/** The reasons of a `status: "error"` answer. */
export type WebhookReason =
  | "bad_signature"
  | "invalid_payload"
  | "unknown_webhook"
  | "unknown_platform"
  | "processing_error";

/** Disk image platforms (`pnctl image build --platform`) and the arch each one boots. */
export const PLATFORM_ARCH = {
  "x86-efi": "amd64",
  "arm64-efi": "arm64",
  rpi4: "arm64",
  rpi5: "arm64",
} as const;
export type DiskImagePlatform = keyof typeof PLATFORM_ARCH;

/** Largest body the route reads (a report is a few hundred bytes). */
export const MAX_WEBHOOK_BODY_BYTES = 64 * 1024;

/** What a CI build reports. */
export interface DiskImageReport {
  platform: DiskImagePlatform;
  gitSha: string;
  sha256: string;
  sizeBytes: number;
  ociRef: string;
  firmwareRef: string;
  arch: "amd64" | "arm64";
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; reason: WebhookReason; message: string };

/** HMAC-SHA256 hex of `body` with `secret`: what the CI system puts in `X-Powernode-Signature`. */
export function signBody(secret: string, body: Uint8Array | string): string {
  return createHmac("sha256", secret).update(body).digest("hex");
}

/**
 * True when `header` (64 hex, optionally `sha256=` first) is the body's signature. Constant time in
 * the signature's bytes; a header of the wrong shape is false without comparing.
 */
export function signatureMatches(
  secret: string,
  body: Uint8Array,
  header: string | null | undefined,
): boolean {
  const hex = (header ?? "").trim().replace(/^sha256=/i, "");
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) return false;
  const want = Buffer.from(signBody(secret, body), "hex");
  return timingSafeEqual(want, Buffer.from(hex.toLowerCase(), "hex"));
}

const GIT_SHA = /^[0-9a-f]{40}$/;
const SHA256 = /^[0-9a-f]{64}$/;
// host[:port]/path[:tag|@sha256:digest], as a registry reference (no scheme).
const OCI_REF =
  /^[a-z0-9.-]+(:\d{1,5})?\/[a-z0-9]+([._-][a-z0-9]+)*(\/[a-z0-9]+([._-][a-z0-9]+)*)*(:[A-Za-z0-9_][A-Za-z0-9._-]{0,127}|@sha256:[0-9a-f]{64})$/;
const FIRMWARE_REF = /^[A-Za-z0-9._+~-]{0,64}$/;

const invalid = (message: string): Parsed<never> => ({ ok: false, reason: "invalid_payload", message });

/** The report in `body` (JSON, snake_case as CI systems send it), or why not. */
export function parseReport(body: Uint8Array): Parsed<DiskImageReport> {
  let doc: unknown;
  try {
    doc = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(body));
  } catch {
    return invalid("body: not UTF-8 JSON");
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc))
    return invalid("body: not a JSON object");
  const o = doc as Record<string, unknown>;
  const str = (k: string) => (typeof o[k] === "string" ? (o[k] as string) : undefined);
  const platform = str("platform_name") ?? str("platform");
  if (platform === undefined) return invalid("platform_name: missing (a string)");
  const gitSha = str("git_sha");
  if (gitSha === undefined || !GIT_SHA.test(gitSha))
    return invalid("git_sha: must be 40 lower-case hex characters");
  const sha256 = str("sha256");
  if (sha256 === undefined || !SHA256.test(sha256))
    return invalid("sha256: must be 64 lower-case hex characters");
  const size = o.size_bytes;
  if (typeof size !== "number" || !Number.isSafeInteger(size) || size < 1)
    return invalid("size_bytes: must be a positive integer");
  const ociRef = str("oci_ref");
  if (ociRef === undefined || ociRef.length > 512 || !OCI_REF.test(ociRef))
    return invalid("oci_ref: must be host[:port]/repository followed by :tag or @sha256:<64 hex>");
  const firmwareRef = str("firmware_ref") ?? "";
  if (!FIRMWARE_REF.test(firmwareRef)) return invalid("firmware_ref: at most 64 of A-Z a-z 0-9 . _ + ~ -");
  if (!Object.hasOwn(PLATFORM_ARCH, platform))
    return {
      ok: false,
      reason: "unknown_platform",
      message: `platform_name: "${platform.slice(0, 32)}" is not one of ${Object.keys(PLATFORM_ARCH).join(", ")}`,
    };
  const p = platform as DiskImagePlatform;
  const arch = str("arch") ?? PLATFORM_ARCH[p];
  if (arch !== PLATFORM_ARCH[p])
    return invalid(`arch: "${arch.slice(0, 16)}" is not ${PLATFORM_ARCH[p]} (the arch of ${p})`);
  return {
    ok: true,
    value: { platform: p, gitSha, sha256, sizeBytes: size, ociRef, firmwareRef, arch: PLATFORM_ARCH[p] },
  };
}
