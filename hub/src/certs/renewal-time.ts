/**
 * When to renew: two thirds into the lifetime with a jitter of ±1/30 of it, unless the server offers
 * ACME Renewal Information (RFC 9773), whose suggested window wins (a random time inside it). After a
 * failure: exponential backoff from 1 minute to 6 hours, ±20 % jitter.
 */
import { X509Certificate } from "node:crypto";
import type * as acme from "acme-client";

const BACKOFF_BASE_MS = 60_000;
const BACKOFF_MAX_MS = 6 * 3600_000;

export function renewAfterLifetime(notBefore: Date, notAfter: Date, random = Math.random): Date {
  const life = notAfter.getTime() - notBefore.getTime();
  const jitter = (random() * 2 - 1) * (life / 30);
  return new Date(notBefore.getTime() + (life * 2) / 3 + jitter);
}

/** The delay before attempt `failures + 1` after `failures` failures in a row (1, 2, ...). */
export function backoffMs(failures: number, random = Math.random): number {
  const base = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** Math.max(0, failures - 1));
  return Math.round(base * (0.8 + random() * 0.4));
}

/** The RFC 9773 certificate identifier: base64url(AKI keyIdentifier) "." base64url(serial DER bytes). */
export function ariCertId(certPem: string): string {
  const x = new X509Certificate(certPem);
  const der = Buffer.from(x.raw);
  const aki = authorityKeyId(der);
  if (!aki) throw new Error("the certificate has no authority key identifier");
  let serial = Buffer.from(x.serialNumber.length % 2 ? `0${x.serialNumber}` : x.serialNumber, "hex");
  if ((serial[0] ?? 0) & 0x80) serial = Buffer.concat([Buffer.from([0]), serial]);
  return `${aki.toString("base64url")}.${serial.toString("base64url")}`;
}

/** The keyIdentifier of the AuthorityKeyIdentifier extension (OID 2.5.29.35), found in the DER. */
function authorityKeyId(der: Buffer): Buffer | undefined {
  const oid = Buffer.from([0x06, 0x03, 0x55, 0x1d, 0x23]);
  const at = der.indexOf(oid);
  if (at < 0) return undefined;
  // OID, [BOOLEAN critical], OCTET STRING { SEQUENCE { [0] keyIdentifier } }
  let i = at + oid.length;
  if (der[i] === 0x01) i += 3;
  if (der[i] !== 0x04) return undefined;
  i += 2; // octet string tag + short length
  if (der[i] !== 0x30) return undefined;
  i += 2;
  if (der[i] !== 0x80) return undefined;
  const len = der[i + 1] ?? 0;
  return der.subarray(i + 2, i + 2 + len);
}

/** The ARI window's chosen time, or undefined when the directory has no renewalInfo (or it fails). */
export async function renewAfterAri(
  client: acme.Client,
  certPem: string,
  serverCaPem: string | undefined,
  random = Math.random,
): Promise<Date | undefined> {
  const http = client as unknown as { http: { getDirectory(): Promise<Record<string, unknown>> } };
  const dir = await http.http.getDirectory();
  const base = dir?.renewalInfo;
  if (typeof base !== "string") return undefined;
  const r = await fetch(`${base.replace(/\/$/, "")}/${ariCertId(certPem)}`, {
    ...(serverCaPem ? { tls: { ca: serverCaPem } } : {}),
  } as RequestInit);
  if (!r.ok) return undefined;
  const w = ((await r.json()) as { suggestedWindow?: { start?: string; end?: string } }).suggestedWindow;
  const start = w?.start ? Date.parse(w.start) : Number.NaN;
  const end = w?.end ? Date.parse(w.end) : Number.NaN;
  if (!Number.isFinite(start) || !Number.isFinite(end) || end < start) return undefined;
  return new Date(start + random() * (end - start));
}
