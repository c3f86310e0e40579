/**
 * The challtestsrv solver, for Pebble's test DNS server: `POST /set-txt` and `/clear-txt` on its
 * management API (setting `url`). Test setups only: it has no credentials.
 */
import { type DnsProviderConfig, type DnsSolver, httpFailure } from "./solver.ts";

export function createChalltestsrvSolver(cfg: DnsProviderConfig): DnsSolver {
  const url = cfg.settings.url?.replace(/\/+$/, "");
  if (!url || !/^https?:\/\//.test(url))
    throw new Error(`settings.url: "${url ?? ""}" is not an http(s) URL`);
  const post = async (path: string, body: unknown, signal: AbortSignal) => {
    const r = await fetch(`${url}${path}`, { method: "POST", body: JSON.stringify(body), signal }).catch(
      (e) => {
        throw new Error(`challtestsrv ${url}${path}: ${(e as Error).message}`, { cause: e });
      },
    );
    if (!r.ok) throw await httpFailure("challtestsrv", path, r);
  };
  return {
    type: "challtestsrv",
    createTxt: (fqdn, value, signal) => post("/set-txt", { host: `${fqdn}.`, value }, signal),
    removeTxt: (fqdn, _value, signal) => post("/clear-txt", { host: `${fqdn}.` }, signal),
    async check(signal) {
      await post("/clear-txt", { host: "_powernode-preflight.invalid." }, signal);
      return `${url} answers`;
    },
  };
}
