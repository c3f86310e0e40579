/**
 * The propagation wait of the HTTP providers: with a `resolver` setting (host:port, e.g. one of the
 * zone's authoritative servers), TXT queries to it until the value is served; without one, nothing
 * (the provider's API said the record exists).
 */
import { buildTxtQuery, parseAnswer, txtValues } from "./dns-wire.ts";
import { udpExchange } from "./rfc2136.ts";

export async function waitServed(
  resolver: string | undefined,
  fqdn: string,
  value: string,
  signal: AbortSignal,
  timeoutMs = 120_000,
): Promise<void> {
  if (!resolver) return;
  const deadline = Date.now() + timeoutMs;
  let last = "";
  while (Date.now() < deadline) {
    try {
      const q = buildTxtQuery(fqdn);
      const values = txtValues(parseAnswer(await udpExchange(resolver, q.bytes, q.id, signal)).answers);
      if (values.includes(value)) return;
      last = values.length ? `served: ${values.join(", ")}` : "no TXT record yet";
    } catch (e) {
      last = (e as Error).message;
    }
    if (signal.aborted) throw new Error(`waiting for TXT ${fqdn} at ${resolver}: aborted`);
    await Bun.sleep(1000);
  }
  throw new Error(`TXT ${fqdn} not served by ${resolver} after ${timeoutMs / 1000} s (${last})`);
}
