/**
 * The hetzner solver (Hetzner DNS API v1): `Auth-API-Token` header; the zone's id from
 * `GET /zones?name=`, `POST /records` (name relative to the zone), `GET /records?zone_id=` and
 * `DELETE /records/{id}` to remove. Settings: `zone`, `api_url`, `resolver`.
 */
import { waitServed } from "./propagation.ts";
import { type DnsProviderConfig, type DnsSolver, httpFailure, relativeName } from "./solver.ts";

export const HETZNER_API = "https://dns.hetzner.com/api/v1";

export function createHetznerSolver(cfg: DnsProviderConfig): DnsSolver {
  const zone = cfg.settings.zone;
  if (!zone) throw new Error("settings.zone: missing (the Hetzner DNS zone name)");
  if (!cfg.secret) throw new Error("secret: missing (a Hetzner DNS API token)");
  const base = (cfg.settings.api_url || HETZNER_API).replace(/\/+$/, "");
  const call = (path: string, signal: AbortSignal, init: RequestInit = {}) =>
    fetch(`${base}${path}`, {
      ...init,
      signal,
      headers: { "auth-api-token": cfg.secret, "content-type": "application/json" },
    });
  let zoneId: string | undefined;
  const zoneIdOf = async (signal: AbortSignal): Promise<string> => {
    if (zoneId) return zoneId;
    const r = await call(`/zones?name=${encodeURIComponent(zone)}`, signal);
    if (!r.ok) throw await httpFailure("hetzner", `looking up zone ${zone}`, r);
    const id = ((await r.json()) as { zones: { id: string; name: string }[] }).zones.find(
      (z) => z.name === zone,
    )?.id;
    if (!id) throw new Error(`hetzner: no zone ${zone} visible to this token`);
    zoneId = id;
    return id;
  };
  return {
    type: "hetzner",
    async createTxt(fqdn, value, signal) {
      const zone_id = await zoneIdOf(signal);
      const r = await call("/records", signal, {
        method: "POST",
        body: JSON.stringify({ zone_id, type: "TXT", name: relativeName(fqdn, zone), value, ttl: 60 }),
      });
      if (!r.ok) throw await httpFailure("hetzner", `creating TXT ${fqdn}`, r);
      await waitServed(cfg.settings.resolver, fqdn, value, signal);
    },
    async removeTxt(fqdn, value, signal) {
      const zone_id = await zoneIdOf(signal);
      const r = await call(`/records?zone_id=${encodeURIComponent(zone_id)}`, signal);
      if (!r.ok) throw await httpFailure("hetzner", `listing the records of ${zone}`, r);
      const name = relativeName(fqdn, zone);
      const records = (
        (await r.json()) as { records: { id: string; type: string; name: string; value: string }[] }
      ).records;
      for (const rec of records.filter((x) => x.type === "TXT" && x.name === name && x.value === value)) {
        const d = await call(`/records/${rec.id}`, signal, { method: "DELETE" });
        if (!d.ok && d.status !== 404) throw await httpFailure("hetzner", `deleting TXT ${fqdn}`, d);
      }
    },
    async check(signal) {
      return `token accepted, zone ${zone} is ${await zoneIdOf(signal)}`;
    },
  };
}
