/**
 * The security part of the hub's configuration (issue 23, docs/security.md): where the key-encryption
 * key of the private keys at rest comes from, and where `/metrics` is served without a token.
 */
import { parseKek } from "./ca/key-at-rest.ts";

/** Parsed security settings. */
export interface SecurityConfig {
  /**
   * POWERNODE_CA_KEK: base64 of the 32-byte key that seals the CA and constellation keys in the
   * database; undefined = the 0600 file `$POWERNODE_DATA/ca.kek` (made on first start).
   */
  caKek: string | undefined;
  /**
   * POWERNODE_METRICS_LISTEN (`host:port`): a listener that serves only `GET /metrics`, without a
   * token (for a scraper on a private address). Undefined = none; `/metrics` on the operator
   * listener always needs the operator token.
   */
  metricsListen: { host: string; port: number } | undefined;
}

export const DEFAULT_SECURITY: SecurityConfig = { caKek: undefined, metricsListen: undefined };

/** `host:port`, `[v6]:port`; the problem as text otherwise. */
export function parseListenAddress(raw: string): { host: string; port: number } | string {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(raw.trim());
  if (!m) return `"${raw}" is not host:port (e.g. 127.0.0.1:9464 or [::1]:9464)`;
  const port = Number(m[3]);
  if (port > 65535) return `"${raw}": port ${port} is above 65535`;
  return { host: m[1] ?? m[2] ?? "", port };
}

/** Reads the security variables, adding every problem to `problems`. */
export function parseSecurityConfig(
  env: Record<string, string | undefined>,
  problems: string[],
): SecurityConfig {
  let caKek: string | undefined;
  const rawKek = env.POWERNODE_CA_KEK;
  if (rawKek !== undefined && rawKek !== "") {
    const parsed = parseKek(rawKek);
    if (parsed.ok) caKek = rawKek.trim();
    else problems.push(`POWERNODE_CA_KEK: ${parsed.error}`);
  }
  let metricsListen: SecurityConfig["metricsListen"];
  const rawListen = env.POWERNODE_METRICS_LISTEN;
  if (rawListen !== undefined && rawListen !== "") {
    const parsed = parseListenAddress(rawListen);
    if (typeof parsed === "string") problems.push(`POWERNODE_METRICS_LISTEN: ${parsed}`);
    else metricsListen = parsed;
  }
  return { caKek, metricsListen };
}
