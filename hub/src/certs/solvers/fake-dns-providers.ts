/**
 * Local fakes of the Cloudflare, Hetzner DNS and DigitalOcean APIs (the machine cannot reach the real
 * ones), following their documented request and response shapes for what the solvers call: auth by
 * token (401 otherwise), zones by name, TXT record create / list / delete. Each keeps its records in
 * memory and can mirror them to a real DNS server (`onChange`, e.g. challtestsrv's set-txt), so an
 * issuance through a fake reaches Pebble's validation for real.
 */

export type FakeDnsKind = "cloudflare" | "hetzner" | "digitalocean";

export interface FakeRecord {
  id: string;
  /** Fully qualified, no trailing dot. */
  fqdn: string;
  value: string;
}

export interface FakeDnsProvider {
  kind: FakeDnsKind;
  url: string;
  token: string;
  zone: string;
  records(): FakeRecord[];
  /** Every request as `METHOD path`, in order. */
  calls: string[];
  stop(): void;
}

const json = (body: unknown, status = 200) => Response.json(body, { status });

export function startFakeDnsProvider(opts: {
  kind: FakeDnsKind;
  zone: string;
  token: string;
  onChange?: (fqdn: string, values: string[]) => Promise<void>;
}): FakeDnsProvider {
  const { kind, zone, token } = opts;
  const zoneId = `zone-${kind}-1`;
  const records = new Map<string, FakeRecord>();
  const calls: string[] = [];
  let next = 1;
  const changed = async (fqdn: string) =>
    opts.onChange?.(
      fqdn,
      [...records.values()].filter((r) => r.fqdn === fqdn).map((r) => r.value),
    );
  const abs = (name: string) =>
    name === "@" ? zone : name.endsWith(`.${zone}`) || name === zone ? name : `${name}.${zone}`;
  const rel = (fqdn: string) => (fqdn === zone ? "@" : fqdn.slice(0, -(zone.length + 1)));
  const add = async (fqdn: string, value: string) => {
    const rec = { id: String(next++), fqdn, value };
    records.set(rec.id, rec);
    await changed(fqdn);
    return rec;
  };
  const remove = async (id: string) => {
    const rec = records.get(id);
    if (!rec) return false;
    records.delete(id);
    await changed(rec.fqdn);
    return true;
  };

  const authorized = (req: Request) =>
    kind === "hetzner"
      ? req.headers.get("auth-api-token") === token
      : req.headers.get("authorization") === `Bearer ${token}`;

  async function cloudflare(req: Request, url: URL): Promise<Response> {
    const p = url.pathname.replace(/^\/client\/v4/, "");
    if (p === "/user/tokens/verify") return json({ success: true, result: { id: "tok", status: "active" } });
    if (p === "/zones")
      return json({
        success: true,
        result: url.searchParams.get("name") === zone ? [{ id: zoneId, name: zone }] : [],
      });
    const m = p.match(/^\/zones\/([^/]+)\/dns_records(?:\/([^/]+))?$/);
    if (!m || m[1] !== zoneId)
      return json({ success: false, errors: [{ code: 7003, message: "not found" }] }, 404);
    if (req.method === "POST" && !m[2]) {
      const b = (await req.json()) as { type: string; name: string; content: string };
      if (b.type !== "TXT" || !b.name || !b.content)
        return json({ success: false, errors: [{ code: 9000, message: "bad record" }] }, 400);
      const rec = await add(abs(b.name), b.content);
      return json({ success: true, result: { id: rec.id, type: "TXT", name: rec.fqdn, content: rec.value } });
    }
    if (req.method === "GET" && !m[2]) {
      const name = url.searchParams.get("name");
      const list = [...records.values()].filter((r) => !name || r.fqdn === name);
      return json({
        success: true,
        result: list.map((r) => ({ id: r.id, type: "TXT", name: r.fqdn, content: r.value })),
      });
    }
    if (req.method === "DELETE" && m[2])
      return (await remove(m[2]))
        ? json({ success: true, result: { id: m[2] } })
        : json({ success: false }, 404);
    return json({ success: false }, 405);
  }

  async function hetzner(req: Request, url: URL): Promise<Response> {
    const p = url.pathname.replace(/^\/api\/v1/, "");
    if (p === "/zones") {
      const name = url.searchParams.get("name");
      return json({ zones: !name || name === zone ? [{ id: zoneId, name: zone }] : [] });
    }
    if (p === "/records" && req.method === "POST") {
      const b = (await req.json()) as { zone_id: string; type: string; name: string; value: string };
      if (b.zone_id !== zoneId) return json({ error: { message: "zone not found", code: 404 } }, 404);
      if (b.type !== "TXT" || !b.name || !b.value)
        return json({ error: { message: "invalid", code: 422 } }, 422);
      const rec = await add(abs(b.name), b.value);
      return json({
        record: { id: rec.id, type: "TXT", name: rel(rec.fqdn), value: rec.value, zone_id: zoneId },
      });
    }
    if (p === "/records" && req.method === "GET") {
      if (url.searchParams.get("zone_id") !== zoneId) return json({ records: [] });
      return json({
        records: [...records.values()].map((r) => ({
          id: r.id,
          type: "TXT",
          name: rel(r.fqdn),
          value: r.value,
          zone_id: zoneId,
        })),
      });
    }
    const m = p.match(/^\/records\/([^/]+)$/);
    if (m?.[1] && req.method === "DELETE")
      return (await remove(m[1])) ? new Response(null, { status: 200 }) : json({}, 404);
    return json({ error: { message: "not found", code: 404 } }, 404);
  }

  async function digitalocean(req: Request, url: URL): Promise<Response> {
    const p = url.pathname.replace(/^\/v2/, "");
    if (p === "/account")
      return json({ account: { email: "fake@example.test", status: "active", uuid: "fake" } });
    if (p === `/domains/${zone}`) return json({ domain: { name: zone, ttl: 1800 } });
    const m = p.match(/^\/domains\/([^/]+)\/records(?:\/(\d+))?$/);
    if (!m || m[1] !== zone)
      return json({ id: "not_found", message: "The resource you requested could not be found." }, 404);
    if (req.method === "POST" && !m[2]) {
      const b = (await req.json()) as { type: string; name: string; data: string };
      if (b.type !== "TXT" || !b.name || !b.data)
        return json({ id: "unprocessable_entity", message: "invalid" }, 422);
      const rec = await add(abs(b.name), b.data);
      return json(
        { domain_record: { id: Number(rec.id), type: "TXT", name: rel(rec.fqdn), data: rec.value } },
        201,
      );
    }
    if (req.method === "GET" && !m[2]) {
      const name = url.searchParams.get("name");
      const list = [...records.values()].filter((r) => !name || r.fqdn === name);
      return json({
        domain_records: list.map((r) => ({
          id: Number(r.id),
          type: "TXT",
          name: rel(r.fqdn),
          data: r.value,
        })),
      });
    }
    if (req.method === "DELETE" && m[2])
      return (await remove(m[2])) ? new Response(null, { status: 204 }) : json({}, 404);
    return json({ id: "not_found" }, 404);
  }

  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      const url = new URL(req.url);
      calls.push(`${req.method} ${url.pathname}`);
      if (!authorized(req))
        return kind === "cloudflare"
          ? json({ success: false, errors: [{ code: 10000, message: "Authentication error" }] }, 403)
          : json({ id: "unauthorized", message: "Unable to authenticate you." }, 401);
      return kind === "cloudflare"
        ? cloudflare(req, url)
        : kind === "hetzner"
          ? hetzner(req, url)
          : digitalocean(req, url);
    },
  });
  const prefix = kind === "cloudflare" ? "/client/v4" : kind === "hetzner" ? "/api/v1" : "/v2";
  return {
    kind,
    url: `http://127.0.0.1:${server.port}${prefix}`,
    token,
    zone,
    records: () => [...records.values()],
    calls,
    stop: () => void server.stop(true),
  };
}
