/**
 * The cloudflare solver (API v4): bearer token; `GET /user/tokens/verify` for preflight, the zone's id
 * from `GET /zones?name=`, `POST /zones/{id}/dns_records` to create, `GET ...?type=TXT&name=` and
 * `DELETE /zones/{id}/dns_records/{record}` to remove. Settings: `zone`, `api_url` (default the
 * public API), `resolver` (optional propagation check).
 */
import { waitServed } from "./propagation.ts";
import { type DnsProviderConfig, type DnsSolver, httpFailure } from "./solver.ts";

export const CLOUDFLARE_API = "https://api.cloudflare.com/client/v4";

interface CfList<T> {
  success: boolean;
  result: T[];
}

export function createCloudflareSolver(cfg: DnsProviderConfig): DnsSolver {
  const zone = cfg.settings.zone;
  if (!zone) throw new Error("settings.zone: missing (the Cloudflare zone name, e.g. example.com)");
  if (!cfg.secret) throw new Error("secret: missing (a Cloudflare API token with Zone.DNS edit)");
  const base = (cfg.settings.api_url || CLOUDFLARE_API).replace(/\/+$/, "");
  const call = (path: string, signal: AbortSignal, init: RequestInit = {}) =>
    fetch(`${base}${path}`, {
      ...init,
      signal,
      headers: { authorization: `Bearer ${cfg.secret}`, "content-type": "application/json" },
    });
  let zoneId: string | undefined;
  const zoneIdOf = async (signal: AbortSignal): Promise<string> => {
    if (zoneId) return zoneId;
    const r = await call(`/zones?name=${encodeURIComponent(zone)}`, signal);
    if (!r.ok) throw await httpFailure("cloudflare", `looking up zone ${zone}`, r);
    const id = ((await r.json()) as CfList<{ id: string }>).result[0]?.id;
    if (!id) throw new Error(`cloudflare: no zone ${zone} visible to this token`);
    zoneId = id;
    return id;
  };
  return {
    type: "cloudflare",
    async createTxt(fqdn, value, signal) {
      const id = await zoneIdOf(signal);
      const r = await call(`/zones/${id}/dns_records`, signal, {
        method: "POST",
        body: JSON.stringify({ type: "TXT", name: fqdn, content: value, ttl: 60 }),
      });
      if (!r.ok) throw await httpFailure("cloudflare", `creating TXT ${fqdn}`, r);
      await waitServed(cfg.settings.resolver, fqdn, value, signal);
    },
    async removeTxt(fqdn, value, signal) {
      const id = await zoneIdOf(signal);
      const r = await call(`/zones/${id}/dns_records?type=TXT&name=${encodeURIComponent(fqdn)}`, signal);
      if (!r.ok) throw await httpFailure("cloudflare", `listing TXT ${fqdn}`, r);
      const records = ((await r.json()) as CfList<{ id: string; content: string }>).result;
      for (const rec of records.filter((x) => x.content === value || x.content === `"${value}"`)) {
        const d = await call(`/zones/${id}/dns_records/${rec.id}`, signal, { method: "DELETE" });
        if (!d.ok && d.status !== 404) throw await httpFailure("cloudflare", `deleting TXT ${fqdn}`, d);
      }
    },
    async check(signal) {
      const r = await call("/user/tokens/verify", signal);
      if (!r.ok) throw await httpFailure("cloudflare", "verifying the API token", r);
      const status = ((await r.json()) as { result?: { status?: string } }).result?.status;
      if (status !== "active") throw new Error(`cloudflare: the API token is ${status ?? "not active"}`);
      return `token active, zone ${zone} is ${await zoneIdOf(signal)}`;
    },
  };
}
