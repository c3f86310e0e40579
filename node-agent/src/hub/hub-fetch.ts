/**
 * `fetch` for module pulls from the hub: https URLs are verified against the hub CA from the node's
 * identity (only it, not the system store), as the mTLS connection is; http URLs (an operator's
 * POWERNODE_MODULE_REGISTRY_URL) go as they are. Every byte pulled is checked by digest either way.
 */

/** A fetch trusting `caPem` for TLS. */
export function createHubFetch(caPem: string, base: typeof fetch = fetch): typeof fetch {
  const f = (input: string | URL | Request, init?: RequestInit) =>
    base(input, { ...init, tls: { ca: caPem } } as RequestInit);
  return Object.assign(f, { preconnect: base.preconnect }) as typeof fetch;
}
