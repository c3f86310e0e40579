/**
 * The digitalocean solver (API v2): bearer token; `GET /account` for preflight,
 * `POST /domains/{zone}/records` (name relative to the zone), `GET /domains/{zone}/records?type=TXT&name=`
 * and `DELETE /domains/{zone}/records/{id}` to remove. Settings: `zone`, `api_url`, `resolver`.
 */
import { waitServed } from "./propagation.ts";
import { type DnsProviderConfig, type DnsSolver, httpFailure, relativeName } from "./solver.ts";

export const DIGITALOCEAN_API = "https://api.digitalocean.com/v2";

export function createDigitalOceanSolver(cfg: DnsProviderConfig): DnsSolver {
  const zone = cfg.settings.zone;
  if (!zone) throw new Error("settings.zone: missing (the DigitalOcean domain, e.g. example.com)");
  if (!cfg.secret) throw new Error("secret: missing (a DigitalOcean API token with domain write)");
  const base = (cfg.settings.api_url || DIGITALOCEAN_API).replace(/\/+$/, "");
  const call = (path: string, signal: AbortSignal, init: RequestInit = {}) =>
    fetch(`${base}${path}`, {
      ...init,
      signal,
      headers: { authorization: `Bearer ${cfg.secret}`, "content-type": "application/json" },
    });
  const records = `/domains/${encodeURIComponent(zone)}/records`;
  return {
    type: "digitalocean",
    async createTxt(fqdn, value, signal) {
      const r = await call(records, signal, {
        method: "POST",
        body: JSON.stringify({ type: "TXT", name: relativeName(fqdn, zone), data: value, ttl: 60 }),
      });
      if (!r.ok) throw await httpFailure("digitalocean", `creating TXT ${fqdn}`, r);
      await waitServed(cfg.settings.resolver, fqdn, value, signal);
    },
    async removeTxt(fqdn, value, signal) {
      const r = await call(`${records}?type=TXT&name=${encodeURIComponent(fqdn)}`, signal);
      if (!r.ok) throw await httpFailure("digitalocean", `listing TXT ${fqdn}`, r);
      const list = ((await r.json()) as { domain_records: { id: number; data: string }[] }).domain_records;
      for (const rec of list.filter((x) => x.data === value)) {
        const d = await call(`${records}/${rec.id}`, signal, { method: "DELETE" });
        if (!d.ok && d.status !== 404) throw await httpFailure("digitalocean", `deleting TXT ${fqdn}`, d);
      }
    },
    async check(signal) {
      const r = await call("/account", signal);
      if (!r.ok) throw await httpFailure("digitalocean", "reading the account", r);
      const status = ((await r.json()) as { account?: { status?: string } }).account?.status;
      if (status !== "active") throw new Error(`digitalocean: the account is ${status ?? "unknown"}`);
      const z = await call(`/domains/${encodeURIComponent(zone)}`, signal);
      if (!z.ok) throw await httpFailure("digitalocean", `reading domain ${zone}`, z);
      return `account active, domain ${zone} found`;
    },
  };
}
