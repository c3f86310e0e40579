/**
 * Parses the node identity (who it is, which hub, how to trust it) from raw strings, whichever source
 * they came from. Every problem is reported at once, each naming its field.
 */

/** A static address for the first non-loopback interface: `addr/prefix,gateway[,dns]`. */
export interface StaticIp {
  address: string;
  prefix: number;
  gateway: string;
  dns?: string;
}

/** What the node needs to enroll with its hub. */
export interface Identity {
  /** Lower-case UUID; the CN of the node certificate. */
  instanceUuid: string;
  bootstrapToken: string;
  /** `https://host:port` of the hub's agent (mTLS) listener, without a trailing slash. */
  platformUrl: string;
  /**
   * Every hub of a scaled-out hub (several processes on one database), in the order to try them;
   * the first is `platformUrl`. Given as `platform_url=https://a:8443,https://b:8443`.
   */
  platformUrls?: string[];
  /** PEM of the CA(s) the node trusts for the hub's TLS certificate. */
  caPem: string;
  /** Static network configuration; DHCP when absent. */
  ip?: StaticIp;
}

/** Raw values by their source key (`instance_uuid`, `bootstrap_token`, `platform_url`, `ca_pem`, `ip`). */
export type RawIdentity = Partial<Record<string, string>>;

/** Where an identity came from, for messages ("fw-cfg", "cmdline", "file /x.json"). */
export type IdentitySource = string;

export type ParseIdentityResult = { ok: true; value: Identity } | { ok: false; error: IdentityError };

/** An identity with one or more bad fields; `problems` lists each, naming the field. */
export class IdentityError extends Error {
  readonly kind = "identity";
  constructor(
    readonly source: IdentitySource,
    readonly problems: string[],
  ) {
    super(`identity from ${source}: ${problems.join("; ")}`);
    this.name = "IdentityError";
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;
const PEM_CERT = /-----BEGIN CERTIFICATE-----\s*([A-Za-z0-9+/=\s]+?)\s*-----END CERTIFICATE-----/g;

/**
 * Decodes `ca_pem` as given on the kernel command line, where newlines cannot appear: the PEM text
 * base64-encoded (standard or URL alphabet, padding optional), or URL-encoded (`%0A` for newlines).
 * A value that already looks like PEM is taken as is (fw-cfg and files carry the raw PEM).
 */
export function decodeCaPem(value: string): string {
  const v = value.trim();
  if (v.includes("-----BEGIN")) return v.includes("%0A") || v.includes("%0a") ? decodeURIComponent(v) : v;
  if (/%[0-9A-Fa-f]{2}/.test(v)) return decodeURIComponent(v);
  const std = v.replaceAll("-", "+").replaceAll("_", "/");
  return Buffer.from(std, "base64").toString("utf8");
}

function parseStaticIp(v: string, problems: string[]): StaticIp | undefined {
  const [cidr = "", gateway = "", dns] = v.split(",");
  const [address = "", prefixText = ""] = cidr.split("/");
  const prefix = Number(prefixText);
  const bad: string[] = [];
  if (!IPV4.test(address)) bad.push(`address "${address}" is not IPv4`);
  if (!/^\d+$/.test(prefixText) || prefix < 1 || prefix > 32) bad.push(`prefix "${prefixText}" is not 1-32`);
  if (!IPV4.test(gateway)) bad.push(`gateway "${gateway}" is not IPv4`);
  if (dns !== undefined && !IPV4.test(dns)) bad.push(`dns "${dns}" is not IPv4`);
  if (bad.length > 0) {
    problems.push(`ip: expected addr/prefix,gateway[,dns] (${bad.join(", ")})`);
    return undefined;
  }
  return dns === undefined ? { address, prefix, gateway } : { address, prefix, gateway, dns };
}

/** Validates raw identity values; `{ok:false}` carries every problem found. */
export function parseIdentity(raw: RawIdentity, source: IdentitySource): ParseIdentityResult {
  const problems: string[] = [];
  const get = (k: string) => raw[k]?.trim() ?? "";

  const instanceUuid = get("instance_uuid").toLowerCase();
  if (instanceUuid === "") problems.push("instance_uuid: missing");
  else if (!UUID.test(instanceUuid)) problems.push(`instance_uuid: "${instanceUuid}" is not a UUID`);

  const bootstrapToken = get("bootstrap_token");
  if (bootstrapToken === "") problems.push("bootstrap_token: missing");
  else if (/\s/.test(bootstrapToken) || bootstrapToken.length > 4096)
    problems.push("bootstrap_token: must be at most 4096 characters without whitespace");

  const platformUrls: string[] = [];
  const rawUrls = get("platform_url");
  if (rawUrls === "") problems.push("platform_url: missing");
  for (const raw of rawUrls === "" ? [] : rawUrls.split(",").slice(0, 9)) {
    try {
      const u = new URL(raw.trim());
      if (u.protocol !== "https:") problems.push(`platform_url: "${raw}" must be https://`);
      else if (u.pathname !== "/" || u.search !== "")
        problems.push(`platform_url: "${raw}" must have no path or query`);
      else platformUrls.push(u.origin);
    } catch {
      problems.push(`platform_url: "${raw}" is not a URL`);
    }
  }
  if (rawUrls.split(",").length > 8) problems.push("platform_url: more than 8 hub URLs");
  const platformUrl = platformUrls[0] ?? rawUrls;

  let caPem = "";
  const caRaw = get("ca_pem");
  if (caRaw === "") problems.push("ca_pem: missing");
  else {
    try {
      caPem = decodeCaPem(caRaw);
      const blocks = [...caPem.matchAll(PEM_CERT)];
      if (blocks.length === 0)
        problems.push("ca_pem: no PEM CERTIFICATE block (give the PEM, base64 of it, or it URL-encoded)");
      else caPem = `${blocks.map((b) => b[0]).join("\n")}\n`;
    } catch {
      problems.push("ca_pem: cannot decode (give the PEM, base64 of it, or it URL-encoded)");
    }
  }

  const ipRaw = get("ip");
  const ip = ipRaw === "" || ipRaw === "dhcp" ? undefined : parseStaticIp(ipRaw, problems);

  if (problems.length > 0) return { ok: false, error: new IdentityError(source, problems) };
  const value: Identity = { instanceUuid, bootstrapToken, platformUrl, caPem };
  if (platformUrls.length > 1) value.platformUrls = platformUrls;
  if (ip) value.ip = ip;
  return { ok: true, value };
}
