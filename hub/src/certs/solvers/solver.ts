/**
 * The DNS-01 solver contract: put the challenge's TXT record where the ACME server looks, wait until it
 * is served, take it away afterwards, and tell preflight whether the credentials answer. One file per
 * provider (rfc2136, cloudflare, hetzner, digitalocean, challtestsrv); `providers.ts` builds one from a
 * stored provider row.
 */

/** One DNS provider, ready to use. */
export interface DnsSolver {
  readonly type: DnsProviderType;
  /** Creates the TXT record `fqdn` (no trailing dot) with `value`, and waits until it is served. */
  createTxt(fqdn: string, value: string, signal: AbortSignal): Promise<void>;
  /** Removes that record (a missing one is not an error). */
  removeTxt(fqdn: string, value: string, signal: AbortSignal): Promise<void>;
  /** Asks the provider something that needs the credentials; returns what answered, throws otherwise. */
  check(signal: AbortSignal): Promise<string>;
}

export const DNS_PROVIDER_TYPES = [
  "rfc2136",
  "cloudflare",
  "hetzner",
  "digitalocean",
  "challtestsrv",
] as const;
export type DnsProviderType = (typeof DNS_PROVIDER_TYPES)[number];

/** A provider's stored form: its type, plain settings and its secret (opened). */
export interface DnsProviderConfig {
  name: string;
  type: DnsProviderType;
  settings: Readonly<Record<string, string>>;
  /** The credential (API token, TSIG secret); "" for challtestsrv. */
  secret: string;
}

/** `fqdn` relative to `zone` (`_acme-challenge.hub` in `example.test`), "@" for the apex. */
export function relativeName(fqdn: string, zone: string): string {
  const f = fqdn.replace(/\.$/, "").toLowerCase();
  const z = zone.replace(/\.$/, "").toLowerCase();
  if (f === z) return "@";
  if (!f.endsWith(`.${z}`)) throw new Error(`record ${fqdn} is not inside the zone ${zone}`);
  return f.slice(0, -(z.length + 1));
}

/** A failed provider HTTP call, naming the provider, the request and what came back. */
export async function httpFailure(provider: string, what: string, r: Response): Promise<Error> {
  const body = (await r.text().catch(() => "")).slice(0, 300);
  const hint = r.status === 401 || r.status === 403 ? " (the API token was refused)" : "";
  return new Error(`${provider}: ${what}: HTTP ${r.status}${hint}${body ? `: ${body}` : ""}`);
}
